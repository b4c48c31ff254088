; Inno Setup script: a per-user Enclave installer from the PyInstaller bundle.
;
; Build (on Windows, after `bash packaging/build_bundle.sh cpu` has produced dist\enclave\):
;     iscc /DAppVersion=0.1.0 /DVariant=cpu packaging\windows\enclave.iss
; Output: dist\enclave-<version>-windows-x64-<variant>-setup.exe
;
; Per-user: no administrator rights, installs under %LOCALAPPDATA%\Programs\Enclave, Start-menu
; entry for the current user. The vault lives apart from the program, in %LOCALAPPDATA%\enclave
; (platformdirs' user data folder, or %ENCLAVE_HOME%); the uninstaller asks whether to keep it.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Variant
  #define Variant "cpu"
#endif
#define Bundle "..\..\dist\enclave"

[Setup]
AppId={{6F1D6C2A-8E0B-4C53-9B7E-3A1E0C5D2F41}
AppName=Enclave
AppVersion={#AppVersion}
AppPublisher=Enclave
AppVerName=Enclave {#AppVersion}
DefaultDirName={autopf}\Enclave
DefaultGroupName=Enclave
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=enclave-{#AppVersion}-windows-x64-{#Variant}-setup
SetupIconFile=..\..\build\package\enclave.ico
UninstallDisplayIcon={app}\enclave-gui.exe
UninstallDisplayName=Enclave
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
LicenseFile=NOTICE.txt
; Close a running Enclave before replacing its files.
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
#if FileExists(CompilerPath + "Languages\ChineseSimplified.isl")
Name: "chinesesimplified"; MessagesFile: "compiler:Languages\ChineseSimplified.isl"
#endif

[CustomMessages]
english.KeepVault=Keep your Enclave vault (conversations, API keys, models) in%n%1?%n%nYes keeps it for a later installation. No deletes it for good.
english.DesktopIcon=Create a desktop shortcut
#if FileExists(CompilerPath + "Languages\ChineseSimplified.isl")
chinesesimplified.KeepVault=是否保留 Enclave 保险库(对话、API 密钥、模型)?位置:%n%1%n%n“是”保留,以便以后重新安装使用;“否”将永久删除。
chinesesimplified.DesktopIcon=创建桌面快捷方式
#endif

[Tasks]
Name: "desktopicon"; Description: "{cm:DesktopIcon}"; Flags: unchecked

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Enclave"; Filename: "{app}\enclave-gui.exe"; WorkingDir: "{app}"
Name: "{autodesktop}\Enclave"; Filename: "{app}\enclave-gui.exe"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\enclave-gui.exe"; Description: "{cm:LaunchProgram,Enclave}"; Flags: nowait postinstall skipifsilent

[Code]
{ The data folder the app uses: %ENCLAVE_HOME% when set, else platformdirs' user_data_dir("enclave",
  appauthor=False), which is %LOCALAPPDATA%\enclave. }
function VaultDir(): String;
begin
  Result := GetEnv('ENCLAVE_HOME');
  if Result = '' then
    Result := ExpandConstant('{localappdata}\enclave');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Dir: String;
begin
  if CurUninstallStep <> usPostUninstall then
    Exit;
  Dir := VaultDir();
  if not DirExists(Dir) then
    Exit;
  { A silent uninstall never deletes data. The default button keeps the vault. }
  if UninstallSilent() then
    Exit;
  if SuppressibleMsgBox(FmtMessage(CustomMessage('KeepVault'), [Dir]), mbConfirmation,
      MB_YESNO or MB_DEFBUTTON1, IDYES) = IDNO then
    DelTree(Dir, True, True, True);
end;
