<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>AddUpstreamDialog</name>
    <message>
        <source>Add an upstream</source>
        <translation>添加上游</translation>
    </message>
    <message>
        <source>Upstream name</source>
        <translation>上游名称</translation>
    </message>
    <message>
        <source>e.g. gpu-cluster</source>
        <translation>例如 gpu-cluster</translation>
    </message>
    <message>
        <source>Upstream URL</source>
        <translation>上游 URL</translation>
    </message>
    <message>
        <source>e.g. https://vllm.example.org:8000/v1</source>
        <translation>例如 https://vllm.example.org:8000/v1</translation>
    </message>
    <message>
        <source>Upstream API key</source>
        <translation>上游 API 密钥</translation>
    </message>
    <message>
        <source>optional; stored encrypted</source>
        <translation>可选；加密保存</translation>
    </message>
    <message>
        <source>Ask the upstream which models it serves</source>
        <translation>向上游查询它提供的模型</translation>
    </message>
    <message>
        <source>Discover the models</source>
        <translation>自动发现模型</translation>
    </message>
    <message>
        <source>Models it serves</source>
        <translation>它提供的模型</translation>
    </message>
    <message>
        <source>e.g. llama-3.1-70b, qwen2.5-32b</source>
        <translation>例如 llama-3.1-70b, qwen2.5-32b</translation>
    </message>
    <message>
        <source>Prefix for model names</source>
        <translation>模型名称前缀</translation>
    </message>
    <message>
        <source>optional, e.g. cluster/</source>
        <translation>可选，例如 cluster/</translation>
    </message>
    <message>
        <source>CA certificate file</source>
        <translation>CA 证书文件</translation>
    </message>
    <message>
        <source>optional; else the system&apos;s certificates</source>
        <translation>可选；否则使用系统证书</translation>
    </message>
    <message>
        <source>Choose…</source>
        <translation>选择…</translation>
    </message>
    <message>
        <source>Choose a CA certificate file</source>
        <translation>选择 CA 证书文件</translation>
    </message>
    <message>
        <source>Allow unencrypted http:// to another machine</source>
        <translation>允许以未加密的 http:// 连接其他机器</translation>
    </message>
    <message>
        <source>Allow plain HTTP</source>
        <translation>允许明文 HTTP</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>名称：</translation>
    </message>
    <message>
        <source>URL:</source>
        <translation>URL：</translation>
    </message>
    <message>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <source>Models:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>Prefix:</source>
        <translation>前缀：</translation>
    </message>
    <message>
        <source>CA certificate:</source>
        <translation>CA 证书：</translation>
    </message>
    <message>
        <source>Add upstream</source>
        <translation>添加上游</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Requests for these models are forwarded to the upstream; API keys, rules, the request log and the audit log stay on this machine. The same as `enclave upstreams add`.</source>
        <translation>对这些模型的请求会转发到上游；API 密钥、规则、请求日志和审计日志都留在本机。与 `enclave upstreams add` 相同。</translation>
    </message>
    <message>
        <source>CA certificate</source>
        <translation>CA 证书</translation>
    </message>
    <message>
        <source>PEM certificates (*.pem *.crt);;All files (*)</source>
        <translation>PEM 证书 (*.pem *.crt);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Cannot read the CA certificate file “{name}”.</source>
        <translation>无法读取 CA 证书文件“{name}”。</translation>
    </message>
    <message>
        <source>Contacting the upstream…</source>
        <translation>正在联系上游…</translation>
    </message>
    <message>
        <source>Adding…</source>
        <translation>正在添加…</translation>
    </message>
</context>
<context>
    <name>AuditDetails</name>
    <message>
        <source>“{name}”</source>
        <translation>“{name}”</translation>
    </message>
    <message>
        <source>, </source>
        <translation>、</translation>
    </message>
    <message>
        <source>conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>API request texts</source>
        <translation>API 请求文本</translation>
    </message>
    <message>
        <source>API request records</source>
        <translation>API 请求记录</translation>
    </message>
    <message>
        <source>audit log entries</source>
        <translation>审计日志条目</translation>
    </message>
    <message>
        <source>forever</source>
        <translation>永久</translation>
    </message>
    <message>
        <source>{n} day</source>
        <translation>{n} 天</translation>
    </message>
    <message>
        <source>{n} days</source>
        <translation>{n} 天</translation>
    </message>
    <message>
        <source>{category} {days}</source>
        <translation>{category}保留 {days}</translation>
    </message>
    <message>
        <source>Retention set: keep {rules}.</source>
        <translation>保留期限已设置：{rules}。</translation>
    </message>
    <message>
        <source>Legal hold on: nothing expires.</source>
        <translation>已开启法律保留：任何数据都不会过期。</translation>
    </message>
    <message>
        <source>Held data subjects: {subjects}.</source>
        <translation>受法律保留的数据主体：{subjects}。</translation>
    </message>
    <message>
        <source>Only approved models may be loaded.</source>
        <translation>只能加载已批准的模型。</translation>
    </message>
    <message>
        <source>Any imported model may be loaded.</source>
        <translation>可以加载任何已导入的模型。</translation>
    </message>
    <message>
        <source>Controller named in the processing record: {name}.</source>
        <translation>处理活动记录中的数据控制者：{name}。</translation>
    </message>
    <message>
        <source>on</source>
        <translation>开启</translation>
    </message>
    <message>
        <source>off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Setting {name} changed to {value}.</source>
        <translation>设置 {name} 已改为 {value}。</translation>
    </message>
    <message>
        <source>adapter SHA-256 {digest}…</source>
        <translation>适配器 SHA-256 {digest}…</translation>
    </message>
    <message>
        <source>base model SHA-256 {digest}…</source>
        <translation>基础模型 SHA-256 {digest}…</translation>
    </message>
    <message>
        <source>dataset SHA-256 {digest}…</source>
        <translation>数据集 SHA-256 {digest}…</translation>
    </message>
    <message>
        <source>{n} file added</source>
        <translation>已添加 {n} 个文件</translation>
    </message>
    <message>
        <source>{n} files added</source>
        <translation>已添加 {n} 个文件</translation>
    </message>
    <message>
        <source>{n} file replaced</source>
        <translation>已替换 {n} 个文件</translation>
    </message>
    <message>
        <source>{n} files replaced</source>
        <translation>已替换 {n} 个文件</translation>
    </message>
    <message>
        <source>{n} file unchanged</source>
        <translation>{n} 个文件未变</translation>
    </message>
    <message>
        <source>{n} files unchanged</source>
        <translation>{n} 个文件未变</translation>
    </message>
    <message>
        <source>{n} file unreadable</source>
        <translation>{n} 个文件无法读取</translation>
    </message>
    <message>
        <source>{n} files unreadable</source>
        <translation>{n} 个文件无法读取</translation>
    </message>
    <message>
        <source>{n} file cancelled</source>
        <translation>已取消 {n} 个文件</translation>
    </message>
    <message>
        <source>{n} files cancelled</source>
        <translation>已取消 {n} 个文件</translation>
    </message>
    <message>
        <source>a removed collection</source>
        <translation>一个已删除的文档集</translation>
    </message>
    <message>
        <source>collection {name}</source>
        <translation>文档集 {name}</translation>
    </message>
    <message>
        <source>collections {names}</source>
        <translation>文档集 {names}</translation>
    </message>
    <message>
        <source>{n} document</source>
        <translation>{n} 个文档</translation>
    </message>
    <message>
        <source>{n} documents</source>
        <translation>{n} 个文档</translation>
    </message>
    <message>
        <source>{n} passage found</source>
        <translation>找到 {n} 个段落</translation>
    </message>
    <message>
        <source>{n} passages found</source>
        <translation>找到 {n} 个段落</translation>
    </message>
    <message>
        <source>the whole collection</source>
        <translation>整个文档集</translation>
    </message>
    <message>
        <source>listening on {address}</source>
        <translation>监听地址 {address}</translation>
    </message>
    <message>
        <source>file {name}</source>
        <translation>文件 {name}</translation>
    </message>
    <message>
        <source>from folder {name}</source>
        <translation>来自文件夹 {name}</translation>
    </message>
    <message>
        <source>data subject {name}</source>
        <translation>数据主体 {name}</translation>
    </message>
    <message>
        <source>matching {text}</source>
        <translation>匹配 {text}</translation>
    </message>
    <message>
        <source>SHA-256 {digest}…</source>
        <translation>SHA-256 {digest}…</translation>
    </message>
    <message>
        <source>dataset {name}</source>
        <translation>数据集 {name}</translation>
    </message>
    <message>
        <source>{n} row</source>
        <translation>{n} 行</translation>
    </message>
    <message>
        <source>{n} rows</source>
        <translation>{n} 行</translation>
    </message>
    <message>
        <source>{n} data subject</source>
        <translation>{n} 个数据主体</translation>
    </message>
    <message>
        <source>{n} data subjects</source>
        <translation>{n} 个数据主体</translation>
    </message>
    <message>
        <source>{n} dataset</source>
        <translation>{n} 个数据集</translation>
    </message>
    <message>
        <source>{n} datasets</source>
        <translation>{n} 个数据集</translation>
    </message>
    <message>
        <source>adapters withdrawn: {names}</source>
        <translation>已撤回的适配器：{names}</translation>
    </message>
    <message>
        <source>at {url}</source>
        <translation>地址 {url}</translation>
    </message>
    <message>
        <source>model {name}</source>
        <translation>模型 {name}</translation>
    </message>
    <message>
        <source>API key {name}</source>
        <translation>API 密钥 {name}</translation>
    </message>
    <message>
        <source>models: {names}</source>
        <translation>模型：{names}</translation>
    </message>
    <message>
        <source>may search collections: {names}</source>
        <translation>可检索的文档集：{names}</translation>
    </message>
    <message>
        <source>may fill collections: {names}</source>
        <translation>可写入的文档集：{names}</translation>
    </message>
    <message>
        <source>one conversation</source>
        <translation>一个对话</translation>
    </message>
    <message>
        <source>happened at {time}, while the vault was locked</source>
        <translation>发生于 {time}（当时保险库已锁定）</translation>
    </message>
    <message>
        <source>everything</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>expires {time}</source>
        <translation>{time} 到期</translation>
    </message>
    <message>
        <source>at most {n} request a minute</source>
        <translation>每分钟最多 {n} 个请求</translation>
    </message>
    <message>
        <source>at most {n} requests a minute</source>
        <translation>每分钟最多 {n} 个请求</translation>
    </message>
    <message>
        <source>at most {n} token a day</source>
        <translation>每天最多 {n} 个 Token</translation>
    </message>
    <message>
        <source>at most {n} tokens a day</source>
        <translation>每天最多 {n} 个 Token</translation>
    </message>
    <message>
        <source>{n} API request</source>
        <translation>{n} 个 API 请求</translation>
    </message>
    <message>
        <source>{n} API requests</source>
        <translation>{n} 个 API 请求</translation>
    </message>
    <message>
        <source>{n} conversation</source>
        <translation>{n} 个对话</translation>
    </message>
    <message>
        <source>{n} conversations</source>
        <translation>{n} 个对话</translation>
    </message>
    <message>
        <source>nothing had expired</source>
        <translation>没有过期的数据</translation>
    </message>
    <message>
        <source>removed {counts}</source>
        <translation>已删除 {counts}</translation>
    </message>
    <message>
        <source>record of processing (Art. 30)</source>
        <translation>处理活动记录（第 30 条）</translation>
    </message>
    <message>
        <source>the key may not use this model</source>
        <translation>该密钥无权使用此模型</translation>
    </message>
    <message>
        <source>the model is not approved</source>
        <translation>该模型未获批准</translation>
    </message>
    <message>
        <source>prompts and replies are logged</source>
        <translation>记录提示词和回复全文</translation>
    </message>
    <message>
        <source>only metadata is logged, no texts</source>
        <translation>只记录元数据，不记录文本</translation>
    </message>
    <message>
        <source>replies carry the AI label</source>
        <translation>回复带有 AI 标识</translation>
    </message>
    <message>
        <source>replies carry no AI label</source>
        <translation>回复不带 AI 标识</translation>
    </message>
    <message>
        <source>encrypted (TLS)</source>
        <translation>已加密（TLS）</translation>
    </message>
    <message>
        <source>not encrypted</source>
        <translation>未加密</translation>
    </message>
    <message>
        <source>own certificate authority</source>
        <translation>自有证书颁发机构</translation>
    </message>
    <message>
        <source>plain HTTP allowed</source>
        <translation>允许明文 HTTP</translation>
    </message>
    <message>
        <source>with an API key</source>
        <translation>使用 API 密钥</translation>
    </message>
    <message>
        <source>every request deterministic</source>
        <translation>每个请求结果可复现</translation>
    </message>
    <message>
        <source>may use the fine-tuning API</source>
        <translation>可使用微调 API</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <source>; </source>
        <translation>；</translation>
    </message>
</context>
<context>
    <name>AuditEvents</name>
    <message>
        <source>Vault created</source>
        <translation>创建保险库</translation>
    </message>
    <message>
        <source>Unlocked</source>
        <translation>解锁</translation>
    </message>
    <message>
        <source>Wrong passphrase given</source>
        <translation>密码输入错误</translation>
    </message>
    <message>
        <source>Passphrase changed</source>
        <translation>更改密码</translation>
    </message>
    <message>
        <source>Passphrase reset with the recovery key</source>
        <translation>用恢复密钥重置密码</translation>
    </message>
    <message>
        <source>Encrypted backup written</source>
        <translation>写入加密备份</translation>
    </message>
    <message>
        <source>Restored from a backup</source>
        <translation>从备份恢复</translation>
    </message>
    <message>
        <source>Exported (not encrypted)</source>
        <translation>导出（未加密）</translation>
    </message>
    <message>
        <source>Conversations erased</source>
        <translation>清除对话</translation>
    </message>
    <message>
        <source>API request texts erased</source>
        <translation>清除 API 请求文本</translation>
    </message>
    <message>
        <source>Conversations imported</source>
        <translation>导入对话</translation>
    </message>
    <message>
        <source>Expired data purged</source>
        <translation>清理过期数据</translation>
    </message>
    <message>
        <source>API key created</source>
        <translation>创建 API 密钥</translation>
    </message>
    <message>
        <source>API key revoked</source>
        <translation>吊销 API 密钥</translation>
    </message>
    <message>
        <source>Server started</source>
        <translation>启动服务</translation>
    </message>
    <message>
        <source>Server stopped</source>
        <translation>停止服务</translation>
    </message>
    <message>
        <source>Model imported</source>
        <translation>导入模型</translation>
    </message>
    <message>
        <source>Model removed</source>
        <translation>移除模型</translation>
    </message>
    <message>
        <source>Default model changed</source>
        <translation>更改默认模型</translation>
    </message>
    <message>
        <source>Model approved</source>
        <translation>批准模型</translation>
    </message>
    <message>
        <source>Model approval withdrawn</source>
        <translation>撤销模型批准</translation>
    </message>
    <message>
        <source>Setting changed</source>
        <translation>更改设置</translation>
    </message>
    <message>
        <source>Conversations tagged with a data subject</source>
        <translation>为对话标记数据主体</translation>
    </message>
    <message>
        <source>AI labels switched for an API key</source>
        <translation>切换 API 密钥的 AI 标识</translation>
    </message>
    <message>
        <source>Refused by policy</source>
        <translation>被策略拒绝</translation>
    </message>
    <message>
        <source>Processing report generated</source>
        <translation>生成处理活动报告</translation>
    </message>
    <message>
        <source>Upstream server added</source>
        <translation>添加上游服务</translation>
    </message>
    <message>
        <source>Upstream server removed</source>
        <translation>移除上游服务</translation>
    </message>
    <message>
        <source>Training dataset imported</source>
        <translation>已导入训练数据集</translation>
    </message>
    <message>
        <source>Training dataset removed</source>
        <translation>已删除训练数据集</translation>
    </message>
    <message>
        <source>Training started</source>
        <translation>训练已开始</translation>
    </message>
    <message>
        <source>Training stopped at a checkpoint</source>
        <translation>训练已在检查点停止</translation>
    </message>
    <message>
        <source>Unfinished training discarded</source>
        <translation>已丢弃未完成的训练</translation>
    </message>
    <message>
        <source>Adapter trained</source>
        <translation>适配器已训练完成</translation>
    </message>
    <message>
        <source>Adapter loaded</source>
        <translation>已加载适配器</translation>
    </message>
    <message>
        <source>Adapted model removed</source>
        <translation>已删除适配模型</translation>
    </message>
    <message>
        <source>Adapters withdrawn (subject erased)</source>
        <translation>适配器已撤下（数据主体已删除）</translation>
    </message>
    <message>
        <source>Documents added</source>
        <translation>已添加文档</translation>
    </message>
    <message>
        <source>Document collection created</source>
        <translation>已创建文档集</translation>
    </message>
    <message>
        <source>Documents removed</source>
        <translation>已删除文档</translation>
    </message>
    <message>
        <source>Documents searched</source>
        <translation>已搜索文档</translation>
    </message>
    <message>
        <source>Documents tagged with a data subject</source>
        <translation>已为文档标记数据主体</translation>
    </message>
    <message>
        <source>Assistant defined</source>
        <translation>已定义助手</translation>
    </message>
    <message>
        <source>Assistant removed</source>
        <translation>已删除助手</translation>
    </message>
    <message>
        <source>Tool server added</source>
        <translation>添加工具服务</translation>
    </message>
    <message>
        <source>Tool server removed</source>
        <translation>移除工具服务</translation>
    </message>
    <message>
        <source>Tool rule changed</source>
        <translation>更改工具规则</translation>
    </message>
    <message>
        <source>Tool called</source>
        <translation>调用工具</translation>
    </message>
    <message>
        <source>Assistant answered without its tools (the key may not use tools)</source>
        <translation>助手未使用其工具作答（该密钥无权使用工具）</translation>
    </message>
    <message>
        <source>Device paired</source>
        <translation>已配对设备</translation>
    </message>
    <message>
        <source>Paired device cut off</source>
        <translation>已切断配对设备</translation>
    </message>
    <message>
        <source>Pairing code used by its device</source>
        <translation>配对码已被其设备使用</translation>
    </message>
    <message>
        <source>Used or expired pairing code refused</source>
        <translation>已拒绝已使用或已过期的配对码</translation>
    </message>
    <message>
        <source>Command run through the server&apos;s admin channel</source>
        <translation>通过服务器管理通道运行的命令</translation>
    </message>
    <message>
        <source>Organisation server added</source>
        <translation>已添加机构服务器</translation>
    </message>
    <message>
        <source>Organisation server removed</source>
        <translation>已移除机构服务器</translation>
    </message>
    <message>
        <source>desktop app</source>
        <translation>桌面应用</translation>
    </message>
    <message>
        <source>command line</source>
        <translation>命令行</translation>
    </message>
    <message>
        <source>server</source>
        <translation>服务</translation>
    </message>
    <message>
        <source>this computer</source>
        <translation>本机</translation>
    </message>
</context>
<context>
    <name>BackupPanel</name>
    <message>
        <source>Backup</source>
        <translation>备份</translation>
    </message>
    <message>
        <source>Back up…</source>
        <translation>备份…</translation>
    </message>
    <message>
        <source>Write an encrypted backup</source>
        <translation>写入加密备份</translation>
    </message>
    <message>
        <source>Restore…</source>
        <translation>恢复…</translation>
    </message>
    <message>
        <source>Restore from a backup</source>
        <translation>从备份恢复</translation>
    </message>
    <message>
        <source>Backup progress</source>
        <translation>备份进度</translation>
    </message>
    <message>
        <source>Backup status</source>
        <translation>备份状态</translation>
    </message>
    <message>
        <source>A backup is one encrypted file: it opens with your passphrase or the recovery key. Keep it on a USB drive or another machine, not only here.</source>
        <translation>备份是一个加密文件：用您的密码或恢复密钥即可打开。请把它放在 U 盘或另一台机器上，不要只留在这里。</translation>
    </message>
    <message>
        <source>No removable drive found: choose a folder on another disk if you can.</source>
        <translation>未找到可移动驱动器：如有可能，请选择另一块磁盘上的文件夹。</translation>
    </message>
    <message>
        <source>Back up to folder</source>
        <translation>备份到文件夹</translation>
    </message>
    <message>
        <source>Backing up…</source>
        <translation>正在备份…</translation>
    </message>
    <message>
        <source>Backup written to {path} (encrypted, {size}).</source>
        <translation>备份已写入 {path}（已加密，{size}）。</translation>
    </message>
    <message>
        <source>It is on the same drive as the vault: copy it to another disk too.</source>
        <translation>它与保险库在同一块磁盘上：请再复制一份到其他磁盘。</translation>
    </message>
    <message>
        <source>Backup failed: {error}</source>
        <translation>备份失败：{error}</translation>
    </message>
    <message>
        <source>Enclave backups (*.db);;All files (*)</source>
        <translation>Enclave 备份 (*.db);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Stop the server before restoring: its clients use the current vault.</source>
        <translation>恢复前请先停止服务器：它的客户端正在使用当前保险库。</translation>
    </message>
    <message>
        <source>Checking and restoring the backup…</source>
        <translation>正在检查并恢复备份…</translation>
    </message>
    <message>
        <source>Restored from {name}. The replaced vault was kept in the Backups folder.</source>
        <translation>已从 {name} 恢复。被替换的保险库保存在备份文件夹中。</translation>
    </message>
    <message>
        <source>That passphrase does not open the backup; nothing was changed.</source>
        <translation>该密码无法打开此备份；未做任何更改。</translation>
    </message>
    <message>
        <source>Restore failed: {error}</source>
        <translation>恢复失败：{error}</translation>
    </message>
</context>
<context>
    <name>Banner</name>
    <message>
        <source>Result</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>ChangePassphraseDialog</name>
    <message>
        <source>Change passphrase</source>
        <translation>更改密码</translation>
    </message>
    <message>
        <source>Current passphrase</source>
        <translation>当前密码</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Current:</source>
        <translation>当前密码：</translation>
    </message>
    <message>
        <source>Changing…</source>
        <translation>正在更改…</translation>
    </message>
    <message>
        <source>The current passphrase is wrong; nothing was changed.</source>
        <translation>当前密码不正确，未做任何更改。</translation>
    </message>
</context>
<context>
    <name>ChatSettingsSheet</name>
    <message>
        <source>Chat settings</source>
        <translation>对话设置</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>e.g. You are a concise assistant for our legal team.</source>
        <translation>例如：你是我们法务团队的助手，回答简明扼要。</translation>
    </message>
    <message>
        <source>Preset</source>
        <translation>预设</translation>
    </message>
    <message>
        <source>Balanced</source>
        <translation>均衡</translation>
    </message>
    <message>
        <source>Precise</source>
        <translation>精确</translation>
    </message>
    <message>
        <source>Creative</source>
        <translation>创意</translation>
    </message>
    <message>
        <source>Custom</source>
        <translation>自定义</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>Top P</source>
        <translation>Top P</translation>
    </message>
    <message>
        <source>Top K</source>
        <translation>Top K</translation>
    </message>
    <message>
        <source>Repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <source>Maximum reply length in tokens</source>
        <translation>回复的最大长度（Token 数）</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>random</source>
        <translation>随机</translation>
    </message>
    <message>
        <source>Preset:</source>
        <translation>预设：</translation>
    </message>
    <message>
        <source>Temperature:</source>
        <translation>温度：</translation>
    </message>
    <message>
        <source>Top P:</source>
        <translation>Top P：</translation>
    </message>
    <message>
        <source>Top K:</source>
        <translation>Top K：</translation>
    </message>
    <message>
        <source>Repeat penalty:</source>
        <translation>重复惩罚：</translation>
    </message>
    <message>
        <source>Max tokens:</source>
        <translation>最大 Token 数：</translation>
    </message>
    <message>
        <source>Seed:</source>
        <translation>随机种子：</translation>
    </message>
    <message>
        <source>System prompt (this chat):</source>
        <translation>系统提示词（仅此对话）：</translation>
    </message>
    <message>
        <source>Sampling (all chats):</source>
        <translation>采样参数（所有对话）：</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>Model for this chat</source>
        <translation>此对话使用的模型</translation>
    </message>
    <message>
        <source>System prompt and sampling</source>
        <translation>系统提示词与采样参数</translation>
    </message>
    <message>
        <source>Chat settings</source>
        <translation>对话设置</translation>
    </message>
    <message>
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>Cancel edit</source>
        <translation>取消编辑</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>消息</translation>
    </message>
    <message>
        <source>Message Enclave…  (Ctrl+Enter to send)</source>
        <translation>给 Enclave 发消息…（Ctrl+Enter 发送）</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Send (Ctrl+Enter)</source>
        <translation>发送（Ctrl+Enter）</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop generating</source>
        <translation>停止生成</translation>
    </message>
    <message>
        <source>Stop (Esc)</source>
        <translation>停止（Esc）</translation>
    </message>
    <message>
        <source>Chat status</source>
        <translation>对话状态</translation>
    </message>
    <message>
        <source>{model} (on {server})</source>
        <translation>{model}（位于 {server}）</translation>
    </message>
    <message>
        <source> (default)</source>
        <translation>（默认）</translation>
    </message>
    <message>
        <source>{model} — on {server}</source>
        <translation>{model} — 位于 {server}</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>No model yet. Import a GGUF file on the Models page to start chatting.</source>
        <translation>还没有模型。请先在“模型”页导入一个 GGUF 文件，再开始对话。</translation>
    </message>
    <message>
        <source>Ask anything. Your messages and the replies stay on this computer, encrypted.</source>
        <translation>尽管提问。你的消息和回复都加密保存在这台电脑上。</translation>
    </message>
    <message>
        <source>{name} is a base model: it continues your text rather than following instructions.</source>
        <translation>{name} 是基础模型：它会续写你的文字，而不是按指令作答。</translation>
    </message>
    <message>
        <source>Wait until the reply being written has finished, or stop it.</source>
        <translation>请等正在生成的回复完成，或先停止它。</translation>
    </message>
    <message>
        <source>Approve or deny the tool call first.</source>
        <translation>请先批准或拒绝这次工具调用。</translation>
    </message>
    <message>
        <source>Import a model first (Models page).</source>
        <translation>请先导入模型（在“模型”页）。</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <source>The reply is complete.</source>
        <translation>回复已完成。</translation>
    </message>
    <message>
        <source>Running the tool…</source>
        <translation>正在运行工具…</translation>
    </message>
    <message>
        <source>The tool call failed: {error}</source>
        <translation>工具调用失败：{error}</translation>
    </message>
    <message>
        <source>Stopped after {count} rounds of tool calls.</source>
        <translation>已在 {count} 轮工具调用后停止。</translation>
    </message>
    <message>
        <source>The reply failed: {error}</source>
        <translation>回复失败：{error}</translation>
    </message>
    <message>
        <source>A reply is being written in another chat; send when it has finished.</source>
        <translation>另一个对话正在生成回复；请在它完成后再发送。</translation>
    </message>
    <message>
        <source>Editing a message: sending replaces it and the replies after it.</source>
        <translation>正在编辑消息：发送后将替换这条消息及其后的所有回复。</translation>
    </message>
</context>
<context>
    <name>CodeBlock</name>
    <message>
        <source>Code block {language}</source>
        <translation>代码块 {language}</translation>
    </message>
    <message>
        <source>code</source>
        <translation>代码</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>复制代码</translation>
    </message>
</context>
<context>
    <name>CollectionPicker</name>
    <message>
        <source>Answer from these document collections, with sources</source>
        <translation>根据这些文档集回答，并列出来源</translation>
    </message>
    <message>
        <source>Document collections for this chat</source>
        <translation>本对话使用的文档集</translation>
    </message>
    <message>
        <source>No collections yet (Documents page)</source>
        <translation>还没有文档集（见“文档”页）</translation>
    </message>
    <message>
        <source>Documents: {names}</source>
        <translation>文档：{names}</translation>
    </message>
    <message>
        <source>Documents: none</source>
        <translation>文档：无</translation>
    </message>
</context>
<context>
    <name>CompliancePanel</name>
    <message>
        <source>Legal hold</source>
        <translation>法律保留</translation>
    </message>
    <message>
        <source>Hold everything: nothing expires or is purged</source>
        <translation>全部保留：任何数据都不会过期或被清理</translation>
    </message>
    <message>
        <source>Legal hold on all data</source>
        <translation>对全部数据实施法律保留</translation>
    </message>
    <message>
        <source>Subjects under legal hold</source>
        <translation>处于法律保留的数据主体</translation>
    </message>
    <message>
        <source>Data subjects</source>
        <translation>数据主体</translation>
    </message>
    <message>
        <source>Conversation to tag</source>
        <translation>要标记的对话</translation>
    </message>
    <message>
        <source>Data subject label</source>
        <translation>数据主体标签</translation>
    </message>
    <message>
        <source>e.g. a customer number</source>
        <translation>例如客户编号</translation>
    </message>
    <message>
        <source>Tag</source>
        <translation>标记</translation>
    </message>
    <message>
        <source>Tag the conversation with this subject</source>
        <translation>用此数据主体标记对话</translation>
    </message>
    <message>
        <source>Clear tag</source>
        <translation>清除标记</translation>
    </message>
    <message>
        <source>Remove the conversation&apos;s subject tag</source>
        <translation>移除对话的数据主体标记</translation>
    </message>
    <message>
        <source>Data subject</source>
        <translation>数据主体</translation>
    </message>
    <message>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <source>Export this subject&apos;s conversations</source>
        <translation>导出此数据主体的对话</translation>
    </message>
    <message>
        <source>Erase…</source>
        <translation>清除…</translation>
    </message>
    <message>
        <source>Erase this subject&apos;s conversations</source>
        <translation>清除此数据主体的对话</translation>
    </message>
    <message>
        <source>Legal hold on this subject</source>
        <translation>对此数据主体实施法律保留</translation>
    </message>
    <message>
        <source>Data subject status</source>
        <translation>数据主体操作状态</translation>
    </message>
    <message>
        <source>Conversation:</source>
        <translation>对话：</translation>
    </message>
    <message>
        <source>Subject label:</source>
        <translation>主体标签：</translation>
    </message>
    <message>
        <source>Subject:</source>
        <translation>数据主体：</translation>
    </message>
    <message>
        <source>An export is a folder of plain JSON with a manifest (access and portability requests). Erasing destroys the keys of every conversation the subject is tagged in.</source>
        <translation>导出结果是一个包含清单的明文 JSON 文件夹（用于查阅和可携带权请求）。清除会销毁该数据主体所标记的每个对话的密钥。</translation>
    </message>
    <message>
        <source>Record of processing (GDPR Art. 30)</source>
        <translation>处理活动记录（GDPR 第 30 条）</translation>
    </message>
    <message>
        <source>Show record…</source>
        <translation>查看记录…</translation>
    </message>
    <message>
        <source>Show the record of processing activities</source>
        <translation>查看处理活动记录</translation>
    </message>
    <message>
        <source>What is kept, where, for how long and how it is protected.</source>
        <translation>保存了哪些数据、存放在哪里、保存多久以及如何保护。</translation>
    </message>
    <message>
        <source>Model allowlist</source>
        <translation>模型白名单</translation>
    </message>
    <message>
        <source>Only approved models may be imported and loaded</source>
        <translation>仅允许导入和加载已批准的模型</translation>
    </message>
    <message>
        <source>Require approved models</source>
        <translation>要求使用已批准的模型</translation>
    </message>
    <message>
        <source>Approved models</source>
        <translation>已批准的模型</translation>
    </message>
    <message>
        <source>Model to approve</source>
        <translation>要批准的模型</translation>
    </message>
    <message>
        <source>Approve</source>
        <translation>批准</translation>
    </message>
    <message>
        <source>Approve this model</source>
        <translation>批准此模型</translation>
    </message>
    <message>
        <source>Withdraw</source>
        <translation>撤销</translation>
    </message>
    <message>
        <source>Withdraw the selected approval</source>
        <translation>撤销所选的批准</translation>
    </message>
    <message>
        <source>Allowlist status</source>
        <translation>白名单状态</translation>
    </message>
    <message>
        <source>An approval names the file&apos;s SHA-256: a swapped file is not approved.</source>
        <translation>批准针对的是文件的 SHA-256：被替换的文件不在批准之列。</translation>
    </message>
    <message>
        <source>Subjects on hold: {names}</source>
        <translation>处于保留的数据主体：{names}</translation>
    </message>
    <message>
        <source>No data subject is on hold.</source>
        <translation>没有处于保留的数据主体。</translation>
    </message>
    <message>
        <source>{title} — {subject}</source>
        <translation>{title} — {subject}</translation>
    </message>
    <message numerus="yes">
        <source>{subject} (%n conversation(s))</source>
        <translation>
            <numerusform>{subject}（%n 个对话）</numerusform>
        </translation>
    </message>
    <message>
        <source> (approved)</source>
        <translation>（已批准）</translation>
    </message>
    <message>
        <source>Subject tag removed.</source>
        <translation>已移除数据主体标记。</translation>
    </message>
    <message>
        <source>Tagged with “{subject}”.</source>
        <translation>已标记为“{subject}”。</translation>
    </message>
    <message>
        <source>Export a data subject&apos;s conversations into</source>
        <translation>将数据主体的对话导出到</translation>
    </message>
    <message>
        <source>Exporting…</source>
        <translation>正在导出…</translation>
    </message>
    <message numerus="yes">
        <source>%n conversation(s) exported to {path} (not encrypted).</source>
        <translation>
            <numerusform>已将 %n 个对话导出到 {path}（未加密）。</numerusform>
        </translation>
    </message>
    <message>
        <source>Export failed: {error}</source>
        <translation>导出失败：{error}</translation>
    </message>
    <message>
        <source>Erase a data subject</source>
        <translation>清除数据主体</translation>
    </message>
    <message>
        <source>{what} will be erased for good. This cannot be undone.</source>
        <translation>{what}将被永久清除，且无法撤销。</translation>
    </message>
    <message>
        <source>ERASE</source>
        <translation>清除</translation>
    </message>
    <message>
        <source>Erase</source>
        <translation>清除</translation>
    </message>
    <message>
        <source>Erasing…</source>
        <translation>正在清除…</translation>
    </message>
    <message numerus="yes">
        <source>%n conversation(s) erased.</source>
        <translation>
            <numerusform>已清除 %n 个对话。</numerusform>
        </translation>
    </message>
    <message>
        <source>Adapted models trained on this subject&apos;s data were withdrawn: {names}. Retrain them without it (enclave train --retrain NAME) or remove them.</source>
        <translation>用此数据主体的数据训练的适配模型已撤下：{names}。请在不含该数据的情况下重新训练（enclave train --retrain NAME）或将其删除。</translation>
    </message>
    <message>
        <source>Erase failed: {error}</source>
        <translation>清除失败：{error}</translation>
    </message>
    <message>
        <source>Only approved models can be imported and loaded.</source>
        <translation>现在只能导入和加载已批准的模型。</translation>
    </message>
    <message>
        <source>Any model can be imported and loaded.</source>
        <translation>现在可以导入和加载任何模型。</translation>
    </message>
    <message>
        <source>Approved {name} ({sha}…).</source>
        <translation>已批准 {name}（{sha}…）。</translation>
    </message>
    <message>
        <source>Approval withdrawn.</source>
        <translation>已撤销批准。</translation>
    </message>
</context>
<context>
    <name>ConnectServerDialog</name>
    <message>
        <source>Connect to your organisation&apos;s server</source>
        <translation>连接到贵机构的服务器</translation>
    </message>
    <message>
        <source>Your administrator creates a pairing code on the server (enclave pair create). Paste it here: this computer then uses the server&apos;s models, and your conversations stay here, encrypted.</source>
        <translation>管理员在服务器上创建配对码（enclave pair create）。将其粘贴到这里：这台电脑即可使用服务器上的模型，而您的对话仍加密保存在本机。</translation>
    </message>
    <message>
        <source>Pairing code</source>
        <translation>配对码</translation>
    </message>
    <message>
        <source>EP2-…</source>
        <translation>EP2-…</translation>
    </message>
    <message>
        <source>Name for this server</source>
        <translation>此服务器的名称</translation>
    </message>
    <message>
        <source>e.g. hospital-gpu</source>
        <translation>例如 hospital-gpu</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>地址</translation>
    </message>
    <message>
        <source>Certificate fingerprint (SHA-256)</source>
        <translation>证书指纹（SHA-256）</translation>
    </message>
    <message>
        <source>This computer is paired as</source>
        <translation>本机的配对名称</translation>
    </message>
    <message>
        <source>Pairing code:</source>
        <translation>配对码：</translation>
    </message>
    <message>
        <source>Server:</source>
        <translation>服务器：</translation>
    </message>
    <message>
        <source>Address:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <source>Certificate:</source>
        <translation>证书：</translation>
    </message>
    <message>
        <source>Paired as:</source>
        <translation>配对名称：</translation>
    </message>
    <message>
        <source>Name here:</source>
        <translation>本机中的名称：</translation>
    </message>
    <message>
        <source>Connection status</source>
        <translation>连接状态</translation>
    </message>
    <message>
        <source>Enclave remembers this certificate: if the server ever presents another one, it refuses to connect and tells you.</source>
        <translation>Enclave 会记住这个证书：如果服务器日后出示其他证书，Enclave 将拒绝连接并告诉您。</translation>
    </message>
    <message>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>正在连接…</translation>
    </message>
</context>
<context>
    <name>ConversationDatasetDialog</name>
    <message>
        <source>New dataset from conversations</source>
        <translation>从对话新建数据集</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>对话列表</translation>
    </message>
    <message>
        <source>Title</source>
        <translation>标题</translation>
    </message>
    <message>
        <source>Date</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>Subject</source>
        <translation>数据主体</translation>
    </message>
    <message>
        <source>Dataset name</source>
        <translation>数据集名称</translation>
    </message>
    <message>
        <source>letters, digits, &apos;.&apos;, &apos;-&apos; or &apos;_&apos;</source>
        <translation>字母、数字、&apos;.&apos;、&apos;-&apos; 或 &apos;_&apos;</translation>
    </message>
    <message>
        <source>Subject for unlabelled conversations</source>
        <translation>未标记对话的数据主体</translation>
    </message>
    <message>
        <source>optional: whose personal data they hold</source>
        <translation>可选：其中包含谁的个人数据</translation>
    </message>
    <message>
        <source>Create dataset</source>
        <translation>创建数据集</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>名称：</translation>
    </message>
    <message>
        <source>Subject:</source>
        <translation>数据主体：</translation>
    </message>
    <message>
        <source>Each ticked conversation becomes one training example: its system prompt, questions and replies (tool calls and empty replies are left out). A conversation&apos;s subject label goes with its row.</source>
        <translation>每个勾选的对话成为一条训练样本：包括其系统提示词、提问和回复（工具调用和空回复不计入）。对话的数据主体标签随其样本一起保存。</translation>
    </message>
    <message>
        <source>There are no conversations yet.</source>
        <translation>还没有对话。</translation>
    </message>
    <message>
        <source>Building the dataset…</source>
        <translation>正在构建数据集…</translation>
    </message>
</context>
<context>
    <name>ConversationListModel</name>
    <message>
        <source>{title}
Last message: {time}</source>
        <translation>{title}
最后一条消息：{time}</translation>
    </message>
    <message>
        <source>{title}, updated {time}</source>
        <translation>{title}，更新于 {time}</translation>
    </message>
</context>
<context>
    <name>ConversationSidebar</name>
    <message>
        <source>Search all chats</source>
        <translation>搜索全部对话</translation>
    </message>
    <message>
        <source>Search all chats (Ctrl+K)</source>
        <translation>搜索全部对话（Ctrl+K）</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>New chat (Ctrl+N)</source>
        <translation>新对话（Ctrl+N）</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>对话列表</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>搜索结果</translation>
    </message>
    <message>
        <source>No conversations yet.</source>
        <translation>还没有对话。</translation>
    </message>
    <message>
        <source>Rename chat</source>
        <translation>重命名对话</translation>
    </message>
    <message>
        <source>Delete chat</source>
        <translation>删除对话</translation>
    </message>
    <message>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <source>Title:</source>
        <translation>标题：</translation>
    </message>
    <message>
        <source>A reply is being written in this chat. Stop it first.</source>
        <translation>此对话正在生成回复，请先停止。</translation>
    </message>
    <message>
        <source>Delete “{title}”? Its messages are erased for good and cannot be recovered.</source>
        <translation>要删除“{title}”吗？其中的消息将被永久清除，无法恢复。</translation>
    </message>
    <message>
        <source>Nothing found for “{query}”.</source>
        <translation>没有找到与“{query}”相关的内容。</translation>
    </message>
    <message>
        <source>in the title</source>
        <translation>位于标题</translation>
    </message>
    <message>
        <source>in your message</source>
        <translation>位于你的消息</translation>
    </message>
    <message>
        <source>in a reply</source>
        <translation>位于回复</translation>
    </message>
    <message>
        <source>{title}, {where}: {text}</source>
        <translation>{title}，{where}：{text}</translation>
    </message>
</context>
<context>
    <name>CopyButton</name>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>已复制</translation>
    </message>
</context>
<context>
    <name>CreateKeyDialog</name>
    <message>
        <source>Create an API key</source>
        <translation>创建 API 密钥</translation>
    </message>
    <message>
        <source>Key name</source>
        <translation>密钥名称</translation>
    </message>
    <message>
        <source>e.g. finance-reports</source>
        <translation>例如：finance-reports</translation>
    </message>
    <message>
        <source>Models this key may use</source>
        <translation>此密钥可使用的模型</translation>
    </message>
    <message>
        <source>Requests per minute</source>
        <translation>每分钟请求数</translation>
    </message>
    <message>
        <source>no limit</source>
        <translation>不限</translation>
    </message>
    <message>
        <source>Tokens per day</source>
        <translation>每日 Token 数</translation>
    </message>
    <message>
        <source>Also keep the full prompt and reply texts (encrypted)</source>
        <translation>同时保存完整的提示词和回复文本（加密）</translation>
    </message>
    <message>
        <source>Store request content</source>
        <translation>保存请求内容</translation>
    </message>
    <message>
        <source>Without it the request log keeps only metadata: time, key, model, status and token counts.</source>
        <translation>不勾选时，请求日志只保存元数据：时间、密钥、模型、状态和Token 数。</translation>
    </message>
    <message>
        <source>Expires after</source>
        <translation>到期日期</translation>
    </message>
    <message>
        <source>The key expires</source>
        <translation>密钥会到期</translation>
    </message>
    <message>
        <source>Last day the key works</source>
        <translation>密钥可用的最后一天</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>名称：</translation>
    </message>
    <message>
        <source>Models:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>Check none to allow every model.</source>
        <translation>不勾选任何模型即表示允许使用全部模型。</translation>
    </message>
    <message>
        <source>Requests/minute:</source>
        <translation>请求数/分钟：</translation>
    </message>
    <message>
        <source>Tokens/day:</source>
        <translation>Token 数/天：</translation>
    </message>
    <message>
        <source>Request log:</source>
        <translation>请求日志：</translation>
    </message>
    <message>
        <source>Expiry:</source>
        <translation>到期：</translation>
    </message>
    <message>
        <source>An expired key is refused with a message saying so; it works through the chosen day (UTC).</source>
        <translation>到期的密钥会被拒绝并说明原因；在所选日期（UTC）当天仍可使用。</translation>
    </message>
    <message>
        <source>Create key</source>
        <translation>创建密钥</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>Documents</name>
    <message>
        <source>Files uploaded through the API</source>
        <translation>通过 API 上传的文件</translation>
    </message>
    <message>
        <source>files programs uploaded through the OpenAI Files API, kept until added to a vector store</source>
        <translation>程序通过 OpenAI Files API 上传的文件，保存到被加入向量库为止</translation>
    </message>
</context>
<context>
    <name>DocumentsView</name>
    <message>
        <source>Collections</source>
        <translation>文档集</translation>
    </message>
    <message>
        <source>New collection…</source>
        <translation>新建文档集…</translation>
    </message>
    <message>
        <source>New collection</source>
        <translation>新建文档集</translation>
    </message>
    <message>
        <source>Remove collection…</source>
        <translation>删除文档集…</translation>
    </message>
    <message>
        <source>Remove collection</source>
        <translation>删除文档集</translation>
    </message>
    <message>
        <source>Document</source>
        <translation>文档</translation>
    </message>
    <message>
        <source>Pages</source>
        <translation>页数</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Added</source>
        <translation>添加时间</translation>
    </message>
    <message>
        <source>Subject</source>
        <translation>数据主体</translation>
    </message>
    <message>
        <source>Documents of the collection</source>
        <translation>文档集中的文档</translation>
    </message>
    <message>
        <source>Add files…</source>
        <translation>添加文件…</translation>
    </message>
    <message>
        <source>Add files</source>
        <translation>添加文件</translation>
    </message>
    <message>
        <source>Add folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <source>Add folder</source>
        <translation>添加文件夹</translation>
    </message>
    <message>
        <source>Remove document</source>
        <translation>删除文档</translation>
    </message>
    <message>
        <source>Adding progress</source>
        <translation>添加进度</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Cancel adding</source>
        <translation>取消添加</translation>
    </message>
    <message>
        <source>Drop files or folders here to add them to the selected collection.</source>
        <translation>把文件或文件夹拖到这里，即可添加到所选文档集。</translation>
    </message>
    <message>
        <source>Import report</source>
        <translation>导入报告</translation>
    </message>
    <message>
        <source>Search the collection</source>
        <translation>搜索文档集</translation>
    </message>
    <message>
        <source>Search this collection…</source>
        <translation>在此文档集中搜索…</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Passage</source>
        <translation>段落</translation>
    </message>
    <message>
        <source>Page</source>
        <translation>页码</translation>
    </message>
    <message>
        <source>Search results</source>
        <translation>搜索结果</translation>
    </message>
    <message>
        <source>The search index is still being built ({done} of {total} documents); search will work when it is done.</source>
        <translation>搜索索引仍在建立中（已完成 {done} / {total} 个文档）；完成后即可搜索。</translation>
    </message>
    <message>
        <source>Create a collection to add documents to it.</source>
        <translation>请先新建一个文档集，再向其中添加文档。</translation>
    </message>
    <message>
        <source>originals kept</source>
        <translation>保留原始文件</translation>
    </message>
    <message>
        <source>originals not kept</source>
        <translation>不保留原始文件</translation>
    </message>
    <message>
        <source>no purpose given</source>
        <translation>未填写用途</translation>
    </message>
    <message>
        <source>“{name}” and its {count} documents will be erased for good. This cannot be undone.</source>
        <translation>“{name}”及其 {count} 个文档将被永久删除，且无法撤销。</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>{name} removed with {count} documents.</source>
        <translation>已删除 {name} 及其 {count} 个文档。</translation>
    </message>
    <message>
        <source>Create or pick a collection first.</source>
        <translation>请先新建或选择一个文档集。</translation>
    </message>
    <message>
        <source>Programs fill this collection through the API; pick another one.</source>
        <translation>此文档集由程序通过 API 写入；请选择其他文档集。</translation>
    </message>
    <message>
        <source>Wait until the files being added are done, or cancel.</source>
        <translation>请等待正在添加的文件完成，或取消。</translation>
    </message>
    <message>
        <source>Adding to {name}…</source>
        <translation>正在添加到 {name}…</translation>
    </message>
    <message>
        <source>Cancelling after the current file…</source>
        <translation>当前文件完成后取消…</translation>
    </message>
    <message>
        <source>Adding file {number} of {total}…</source>
        <translation>正在添加第 {number} 个文件，共 {total} 个…</translation>
    </message>
    <message>
        <source>{added} added, {replaced} replaced, {unchanged} already there, {failed} unreadable, {cancelled} cancelled.</source>
        <translation>已添加 {added} 个，替换 {replaced} 个，{unchanged} 个已存在，{failed} 个无法读取，{cancelled} 个已取消。</translation>
    </message>
    <message>
        <source>Every file was read.</source>
        <translation>所有文件均已读取。</translation>
    </message>
    <message>
        <source>Pick a document first.</source>
        <translation>请先选择一个文档。</translation>
    </message>
    <message>
        <source>{name} removed.</source>
        <translation>已删除 {name}。</translation>
    </message>
    <message>
        <source>Searching…</source>
        <translation>正在搜索…</translation>
    </message>
    <message>
        <source>{count} passages found.</source>
        <translation>找到 {count} 个段落。</translation>
    </message>
    <message>
        <source>Nothing in this collection matches.</source>
        <translation>此文档集中没有匹配的内容。</translation>
    </message>
</context>
<context>
    <name>Errors</name>
    <message>
        <source>Something went wrong</source>
        <translation>出现问题</translation>
    </message>
    <message>
        <source>Wrong passphrase.</source>
        <translation>密码错误。</translation>
    </message>
    <message>
        <source>That recovery key does not open this vault.</source>
        <translation>此恢复密钥无法打开这个保险库。</translation>
    </message>
    <message>
        <source>Enclave is already open in another window or program.</source>
        <translation>Enclave 已在另一个窗口或程序中打开。</translation>
    </message>
    <message>
        <source>There is no vault in this data folder yet.</source>
        <translation>此数据文件夹中还没有保险库。</translation>
    </message>
    <message>
        <source>Import cancelled; nothing was kept.</source>
        <translation>已取消导入，未保留任何文件。</translation>
    </message>
    <message>
        <source>The model is busy with other requests. Try again in a moment.</source>
        <translation>模型正在处理其他请求，请稍后再试。</translation>
    </message>
    <message>
        <source>The conversation no longer fits the model&apos;s context. Start a new chat, or give the model a larger context in its settings.</source>
        <translation>对话已超出模型的上下文长度。请新建对话，或在模型设置中调大上下文。</translation>
    </message>
    <message>
        <source>Refused: the server at {url} presented certificate {shown}, but this computer was paired with certificate {pinned}. Someone may be intercepting the connection, or the server has a new certificate: ask its administrator for a new pairing code.</source>
        <translation>已拒绝：{url} 上的服务器出示的证书是 {shown}，但本机配对时记录的证书是 {pinned}。可能有人在拦截连接，或服务器换了新证书：请向管理员索取新的配对码。</translation>
    </message>
    <message>
        <source>Cannot reach the server “{name}”: is it running, and is this computer on its network? Models on this computer keep working.</source>
        <translation>无法连接服务器“{name}”：它是否在运行？本机是否在它的网络中？本机上的模型仍可照常使用。</translation>
    </message>
    <message>
        <source>This pairing code was already used. Ask the server&apos;s administrator for a new one.</source>
        <translation>此配对码已被使用。请向服务器管理员索取新的配对码。</translation>
    </message>
    <message>
        <source>This pairing code has expired. Ask the server&apos;s administrator for a new one.</source>
        <translation>此配对码已过期。请向服务器管理员索取新的配对码。</translation>
    </message>
    <message>
        <source>This pairing code was revoked. Ask the server&apos;s administrator for a new one.</source>
        <translation>此配对码已被撤销。请向服务器管理员索取新的配对码。</translation>
    </message>
    <message>
        <source>The server does not know this pairing code. Is it meant for another server?</source>
        <translation>服务器不认识此配对码。它是否属于另一台服务器？</translation>
    </message>
    <message>
        <source>The server “{name}” no longer accepts this computer: its pairing was revoked. Ask its administrator for a new pairing code.</source>
        <translation>服务器“{name}”已不再接受本机：配对已被撤销。请向管理员索取新的配对码。</translation>
    </message>
    <message>
        <source>Stored data failed its integrity check (it was changed or damaged): {detail}</source>
        <translation>存储的数据未通过完整性校验（已被改动或损坏）：{detail}</translation>
    </message>
    <message>
        <source>Unexpected error: {kind}</source>
        <translation>意外错误：{kind}</translation>
    </message>
</context>
<context>
    <name>FirstRunWizard</name>
    <message>
        <source>Set up Enclave</source>
        <translation>设置 Enclave</translation>
    </message>
    <message>
        <source>Next</source>
        <translation>下一步</translation>
    </message>
    <message>
        <source>Back</source>
        <translation>上一步</translation>
    </message>
    <message>
        <source>Start using Enclave</source>
        <translation>开始使用 Enclave</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>HardwarePanel</name>
    <message>
        <source>This computer</source>
        <translation>本机</translation>
    </message>
    <message>
        <source>What the model&apos;s memory is made of</source>
        <translation>模型内存的组成</translation>
    </message>
    <message>
        <source>Processor:</source>
        <translation>处理器：</translation>
    </message>
    <message>
        <source>Memory:</source>
        <translation>内存：</translation>
    </message>
    <message>
        <source>GPU:</source>
        <translation>GPU：</translation>
    </message>
    <message>
        <source>Selected model:</source>
        <translation>所选模型：</translation>
    </message>
    <message>
        <source>Hardware</source>
        <translation>硬件</translation>
    </message>
    <message>
        <source>{name}, {cores} threads</source>
        <translation>{name}，{cores} 个线程</translation>
    </message>
    <message>
        <source>{available} free of {total}</source>
        <translation>可用 {available}，共 {total}</translation>
    </message>
    <message>
        <source>used by Enclave</source>
        <translation>Enclave 正在使用</translation>
    </message>
    <message>
        <source>not used: this build runs on the CPU</source>
        <translation>未使用：此版本仅在 CPU 上运行</translation>
    </message>
    <message>
        <source>None found; models run on the CPU</source>
        <translation>未检测到；模型将在 CPU 上运行</translation>
    </message>
    <message>
        <source>Up to about {total}: the model file {weights}, its context cache {cache}, working buffers {buffers}, and up to {saved} to keep paused conversations ready (used only as conversations pause).</source>
        <translation>最多约 {total}：模型文件 {weights}、上下文缓存 {cache}、工作缓冲区 {buffers}，以及最多 {saved} 用于保留暂停中的对话（只在对话暂停时才会占用）。</translation>
    </message>
    <message>
        <source>Model {weights} + context {cache} + buffers {buffers} + up to {saved} for paused conversations</source>
        <translation>模型 {weights} + 上下文 {cache} + 缓冲区 {buffers} + 暂停对话最多 {saved}</translation>
    </message>
    <message>
        <source>{name} is loaded (about {size})</source>
        <translation>{name} 已加载（约占 {size}）</translation>
    </message>
    <message>
        <source>{name} fits (needs about {size})</source>
        <translation>{name} 可以运行（约需 {size}）</translation>
    </message>
    <message>
        <source>{name} may not fit: it needs about {size}</source>
        <translation>{name} 可能内存不足：约需 {size}</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Enclave</source>
        <translation>Enclave</translation>
    </message>
    <message>
        <source>Chat</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>服务</translation>
    </message>
    <message>
        <source>Privacy</source>
        <translation>隐私</translation>
    </message>
    <message>
        <source>Documents</source>
        <translation>文档</translation>
    </message>
    <message>
        <source>{view} (Ctrl+{number})</source>
        <translation>{view}（Ctrl+{number}）</translation>
    </message>
    <message>
        <source>Lock</source>
        <translation>锁定</translation>
    </message>
    <message>
        <source>Lock now (Ctrl+L)</source>
        <translation>立即锁定（Ctrl+L）</translation>
    </message>
</context>
<context>
    <name>MessageListModel</name>
    <message>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <source>Tool result: {tool}</source>
        <translation>工具结果：{tool}</translation>
    </message>
    <message>
        <source>{author}, AI-generated, {time}: {text}</source>
        <translation>{author}，内容由人工智能生成，{time}：{text}</translation>
    </message>
    <message>
        <source>{author}, {time}: {text}</source>
        <translation>{author}，{time}：{text}</translation>
    </message>
</context>
<context>
    <name>MessageListView</name>
    <message>
        <source>Messages</source>
        <translation>消息</translation>
    </message>
</context>
<context>
    <name>MessageWidget</name>
    <message>
        <source>AI-generated</source>
        <translation>内容由人工智能生成</translation>
    </message>
    <message>
        <source>This text was produced by an AI model and may be wrong.</source>
        <translation>此内容由人工智能模型生成，可能有误。</translation>
    </message>
    <message>
        <source>AI-generated content</source>
        <translation>内容由人工智能生成</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy message</source>
        <translation>复制消息</translation>
    </message>
    <message>
        <source>Edit and resend</source>
        <translation>编辑并重新发送</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <source>Previous version of this reply</source>
        <translation>此回复的上一个版本</translation>
    </message>
    <message>
        <source>Next version of this reply</source>
        <translation>此回复的下一个版本</translation>
    </message>
    <message>
        <source>Thinking</source>
        <translation>思考过程</translation>
    </message>
    <message>
        <source>Show or hide the model&apos;s thinking</source>
        <translation>显示或隐藏模型的思考过程</translation>
    </message>
    <message>
        <source>Show the result</source>
        <translation>显示结果</translation>
    </message>
    <message>
        <source>Show or hide the tool&apos;s result</source>
        <translation>显示或隐藏工具的结果</translation>
    </message>
    <message>
        <source>Model loading progress</source>
        <translation>模型加载进度</translation>
    </message>
    <message>
        <source>Hide the result</source>
        <translation>隐藏结果</translation>
    </message>
    <message>
        <source>Loading {model}…</source>
        <translation>正在加载 {model}…</translation>
    </message>
    <message>
        <source>_Thinking…_</source>
        <translation>_思考中…_</translation>
    </message>
    <message>
        <source>_Writing…_</source>
        <translation>_正在撰写…_</translation>
    </message>
    <message>
        <source>{current}/{count}</source>
        <translation>{current}/{count}</translation>
    </message>
    <message>
        <source>Version {current} of {count} of this reply</source>
        <translation>此回复的第 {current} 个版本，共 {count} 个</translation>
    </message>
    <message>
        <source>Loading the model into memory… (Esc to stop)</source>
        <translation>正在将模型载入内存…（按 Esc 停止）</translation>
    </message>
    <message>
        <source>Generating… (Esc to stop)</source>
        <translation>正在生成…（按 Esc 停止）</translation>
    </message>
    <message>
        <source>{rate} tokens/s</source>
        <translation>{rate} Token/秒</translation>
    </message>
    <message>
        <source>{prompt} prompt ({cached} cached) + {completion} reply tokens</source>
        <translation>提示 {prompt}（已缓存 {cached}）+ 回复 {completion} 个 Token</translation>
    </message>
    <message>
        <source>{prompt} prompt + {completion} reply tokens</source>
        <translation>提示 {prompt} + 回复 {completion} 个 Token</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>cut at the token limit</source>
        <translation>已达 Token 上限而截断</translation>
    </message>
</context>
<context>
    <name>ModelPage</name>
    <message>
        <source>Pick a model</source>
        <translation>选择模型</translation>
    </message>
    <message>
        <source>The model answers when a chat does not name another. You can change it any time.</source>
        <translation>对话未指定其他模型时，由它来回答。之后随时可以更改。</translation>
    </message>
    <message>
        <source>Available models</source>
        <translation>可用模型</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>进度</translation>
    </message>
    <message>
        <source>Import a GGUF…</source>
        <translation>导入 GGUF…</translation>
    </message>
    <message>
        <source>Import a GGUF model file</source>
        <translation>导入 GGUF 模型文件</translation>
    </message>
    <message>
        <source>Cancel import</source>
        <translation>取消导入</translation>
    </message>
    <message>
        <source>Preparing the bundled demo model…</source>
        <translation>正在准备内置的演示模型…</translation>
    </message>
    <message>
        <source>No model yet. Import a GGUF file, or do it later on the Models page.</source>
        <translation>还没有模型。现在导入一个 GGUF 文件，或稍后在“模型”页导入。</translation>
    </message>
    <message>
        <source>{name} — {arch} {size}, {quant}, {file}</source>
        <translation>{name} — {arch} {size}，{quant}，{file}</translation>
    </message>
    <message>
        <source>(bundled demo: a small base model that continues text)</source>
        <translation>（内置演示：一个会续写文字的小型基础模型）</translation>
    </message>
    <message>
        <source>Import a GGUF model</source>
        <translation>导入 GGUF 模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <source>Importing {file}…</source>
        <translation>正在导入 {file}…</translation>
    </message>
    <message>
        <source>Imported {name}.</source>
        <translation>已导入 {name}。</translation>
    </message>
</context>
<context>
    <name>ModelSettingsDialog</name>
    <message>
        <source>Settings for {name}</source>
        <translation>{name} 的设置</translation>
    </message>
    <message>
        <source>Context size in tokens</source>
        <translation>上下文长度（Token 数）</translation>
    </message>
    <message>
        <source>automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>Parallel requests</source>
        <translation>并行请求数</translation>
    </message>
    <message>
        <source>CPU threads</source>
        <translation>CPU 线程数</translation>
    </message>
    <message>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <source>Automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>All layers</source>
        <translation>全部层</translation>
    </message>
    <message>
        <source>None (CPU only)</source>
        <translation>无（仅用 CPU）</translation>
    </message>
    <message>
        <source>A number of layers</source>
        <translation>指定层数</translation>
    </message>
    <message>
        <source>Number of GPU layers</source>
        <translation>放到 GPU 上的层数</translation>
    </message>
    <message>
        <source>Chat template</source>
        <translation>对话模板</translation>
    </message>
    <message>
        <source>From the model file</source>
        <translation>使用模型文件自带的模板</translation>
    </message>
    <message>
        <source>Built-in: {name}</source>
        <translation>内置：{name}</translation>
    </message>
    <message>
        <source>Custom (Jinja)…</source>
        <translation>自定义（Jinja）…</translation>
    </message>
    <message>
        <source>Custom chat template</source>
        <translation>自定义对话模板</translation>
    </message>
    <message>
        <source>Context:</source>
        <translation>上下文：</translation>
    </message>
    <message>
        <source>The model was trained for {n} tokens.</source>
        <translation>该模型的训练上下文为 {n} 个 Token。</translation>
    </message>
    <message>
        <source>Parallel requests:</source>
        <translation>并行请求：</translation>
    </message>
    <message>
        <source>Requests answered at the same time, each with the whole context.</source>
        <translation>同时应答的请求数，每个请求都拥有完整的上下文。</translation>
    </message>
    <message>
        <source>Threads:</source>
        <translation>线程数：</translation>
    </message>
    <message>
        <source>GPU layers:</source>
        <translation>GPU 层数：</translation>
    </message>
    <message>
        <source>Chat template:</source>
        <translation>对话模板：</translation>
    </message>
    <message>
        <source>Save</source>
        <translation>保存</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Changes apply the next time the model loads.</source>
        <translation>更改将在下次加载模型时生效。</translation>
    </message>
    <message>
        <source>Memory when loaded: up to about {total} ({weights} weights, {cache} context cache for {tokens} tokens, {saved} for conversations waiting in RAM)</source>
        <translation>加载后最多占用内存约 {total}（权重 {weights}，{tokens} 个 Token 的上下文缓存 {cache}，在内存中等待的对话 {saved}）</translation>
    </message>
</context>
<context>
    <name>ModelTableModel</name>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>参数规模</translation>
    </message>
    <message>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <source>File size</source>
        <translation>文件大小</translation>
    </message>
    <message>
        <source>License</source>
        <translation>许可证</translation>
    </message>
    <message>
        <source>SHA-256</source>
        <translation>SHA-256</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>SHA-256 {sha256}
The file last matched it {when}. Verify reads the whole file again and compares.</source>
        <translation>SHA-256 {sha256}
文件上次与之相符的时间：{when}。“校验”会重新读取整个文件并比对。</translation>
    </message>
    <message>
        <source>A base model: it continues text rather than following instructions.</source>
        <translation>基础模型：它会续写文字，而不是按指令作答。</translation>
    </message>
    <message>
        <source> (default)</source>
        <translation>（默认）</translation>
    </message>
    <message>
        <source>not stated</source>
        <translation>未注明</translation>
    </message>
    <message>
        <source>verified {when}</source>
        <translation>已校验 {when}</translation>
    </message>
    <message>
        <source>checked at import, {when}</source>
        <translation>导入时已核对，{when}</translation>
    </message>
    <message>
        <source>verified just now</source>
        <translation>刚刚校验通过</translation>
    </message>
    <message>
        <source>checking…</source>
        <translation>校验中…</translation>
    </message>
    <message>
        <source>CHANGED — do not use</source>
        <translation>文件已被改动，请勿使用</translation>
    </message>
    <message>
        <source>loaded</source>
        <translation>已加载</translation>
    </message>
    <message>
        <source>not loaded</source>
        <translation>未加载</translation>
    </message>
</context>
<context>
    <name>ModelsView</name>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Import…</source>
        <translation>导入…</translation>
    </message>
    <message>
        <source>Import a GGUF model file</source>
        <translation>导入 GGUF 模型文件</translation>
    </message>
    <message>
        <source>Verify</source>
        <translation>校验</translation>
    </message>
    <message>
        <source>Verify the file&apos;s SHA-256</source>
        <translation>校验文件的 SHA-256</translation>
    </message>
    <message>
        <source>Make default</source>
        <translation>设为默认</translation>
    </message>
    <message>
        <source>Set as default model</source>
        <translation>设为默认模型</translation>
    </message>
    <message>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <source>Model settings</source>
        <translation>模型设置</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <source>Load or unload the model</source>
        <translation>加载或卸载模型</translation>
    </message>
    <message>
        <source>Remove…</source>
        <translation>移除…</translation>
    </message>
    <message>
        <source>Remove the model</source>
        <translation>移除模型</translation>
    </message>
    <message>
        <source>Registered models</source>
        <translation>已登记的模型</translation>
    </message>
    <message>
        <source>Import progress</source>
        <translation>导入进度</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Cancel import</source>
        <translation>取消导入</translation>
    </message>
    <message>
        <source>Drop a .gguf file here to import it.</source>
        <translation>把 .gguf 文件拖到这里即可导入。</translation>
    </message>
    <message>
        <source>Models status</source>
        <translation>模型状态</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>卸载</translation>
    </message>
    <message>
        <source>No model selected.</source>
        <translation>未选择模型。</translation>
    </message>
    <message>
        <source>{name}: {model_name}, {params} parameters, {layers} layers</source>
        <translation>{name}：{model_name}，{params} 参数，{layers} 层</translation>
    </message>
    <message>
        <source>Loads with {parallel} parallel requests of {context} tokens each (Settings… changes this)</source>
        <translation>加载时可并行处理 {parallel} 个请求，每个请求 {context} 个 Token（可在“设置…”中更改）</translation>
    </message>
    <message>
        <source>File: {path}</source>
        <translation>文件：{path}</translation>
    </message>
    <message>
        <source>SHA-256: {sha}</source>
        <translation>SHA-256：{sha}</translation>
    </message>
    <message>
        <source>A base model: it continues text rather than following instructions.</source>
        <translation>基础模型：它会续写文字，而不是按指令作答。</translation>
    </message>
    <message>
        <source>The bundled demo model. Gemma terms of use apply.</source>
        <translation>内置的演示模型，须遵守 Gemma 使用条款。</translation>
    </message>
    <message>
        <source>Import a GGUF model</source>
        <translation>导入 GGUF 模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <source>An import is already running.</source>
        <translation>已有一个导入正在进行。</translation>
    </message>
    <message>
        <source>Importing {file}…</source>
        <translation>正在导入 {file}…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <source>Imported {name} (SHA-256 recorded).</source>
        <translation>已导入 {name}（已记录 SHA-256）。</translation>
    </message>
    <message>
        <source>Import failed: {error}</source>
        <translation>导入失败：{error}</translation>
    </message>
    <message>
        <source>{name}: the file matches its recorded SHA-256.</source>
        <translation>{name}：文件与记录的 SHA-256 一致。</translation>
    </message>
    <message>
        <source>{name}: {error}</source>
        <translation>{name}：{error}</translation>
    </message>
    <message>
        <source>Unloading {name}…</source>
        <translation>正在卸载 {name}…</translation>
    </message>
    <message>
        <source>Loading {name}…</source>
        <translation>正在加载 {name}…</translation>
    </message>
    <message>
        <source>Loading {name}… {percent}%</source>
        <translation>正在加载 {name}… {percent}%</translation>
    </message>
    <message>
        <source>{name} is loaded.</source>
        <translation>{name} 已加载。</translation>
    </message>
    <message>
        <source>Unloaded.</source>
        <translation>已卸载。</translation>
    </message>
    <message>
        <source>Remove model</source>
        <translation>移除模型</translation>
    </message>
    <message>
        <source>Remove {name} and delete its file ({size})?</source>
        <translation>要移除 {name} 并删除其文件（{size}）吗？</translation>
    </message>
    <message>
        <source>Removed {name}.</source>
        <translation>已移除 {name}。</translation>
    </message>
</context>
<context>
    <name>NewCollectionDialog</name>
    <message>
        <source>New collection</source>
        <translation>新建文档集</translation>
    </message>
    <message>
        <source>Collection name</source>
        <translation>文档集名称</translation>
    </message>
    <message>
        <source>Purpose</source>
        <translation>用途</translation>
    </message>
    <message>
        <source>Why these documents are kept (shown in the processing record)</source>
        <translation>保存这些文档的原因（显示在处理活动记录中）</translation>
    </message>
    <message>
        <source>Keep the original files (encrypted)</source>
        <translation>保留原始文件（加密存储）</translation>
    </message>
    <message>
        <source>Keep originals</source>
        <translation>保留原始文件</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>名称：</translation>
    </message>
    <message>
        <source>Purpose:</source>
        <translation>用途：</translation>
    </message>
    <message>
        <source>Create</source>
        <translation>创建</translation>
    </message>
    <message>
        <source>Without the originals, only the extracted text is kept.</source>
        <translation>不保留原始文件时，只保存提取出的文本。</translation>
    </message>
</context>
<context>
    <name>PairDeviceDialog</name>
    <message>
        <source>Pair a device</source>
        <translation>配对设备</translation>
    </message>
    <message>
        <source>Device name</source>
        <translation>设备名称</translation>
    </message>
    <message>
        <source>e.g. alice-laptop</source>
        <translation>例如 alice-laptop</translation>
    </message>
    <message>
        <source>Address devices reach this server at</source>
        <translation>设备访问此服务器所用的地址</translation>
    </message>
    <message>
        <source>Models this device may use</source>
        <translation>此设备可使用的模型</translation>
    </message>
    <message>
        <source>Keep the device&apos;s prompts and replies in the request log</source>
        <translation>在请求日志中保存此设备的提示词和回复</translation>
    </message>
    <message>
        <source>Log request content</source>
        <translation>记录请求内容</translation>
    </message>
    <message>
        <source>Device:</source>
        <translation>设备：</translation>
    </message>
    <message>
        <source>Address:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <source>Models:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>Check none to allow every model.</source>
        <translation>全部不勾选即允许使用所有模型。</translation>
    </message>
    <message>
        <source>Off by default: the server then logs who asked what model when, never the text.</source>
        <translation>默认关闭：服务器只记录谁在何时使用了哪个模型，从不记录文本。</translation>
    </message>
    <message>
        <source>Pairing code</source>
        <translation>配对码</translation>
    </message>
    <message>
        <source>Pairing code as a QR code</source>
        <translation>配对码二维码</translation>
    </message>
    <message>
        <source>Copy code</source>
        <translation>复制配对码</translation>
    </message>
    <message>
        <source>Enter this code on the device (“Connect to your organisation&apos;s server”) within 24 hours. It works only once: the device exchanges it for its own key.</source>
        <translation>请在 24 小时内在该设备上输入此代码（“连接到您组织的服务器”）。它只能使用一次：设备会用它换取自己的密钥。</translation>
    </message>
    <message>
        <source>Create code</source>
        <translation>生成配对码</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>完成</translation>
    </message>
</context>
<context>
    <name>PassageDialog</name>
    <message>
        <source>{document}, page {page}</source>
        <translation>{document}，第 {page} 页</translation>
    </message>
    <message>
        <source>The passage in its document</source>
        <translation>段落在原文档中的位置</translation>
    </message>
</context>
<context>
    <name>Passphrase</name>
    <message>
        <source>Too short: use at least 8 characters</source>
        <translation>太短：至少需要 8 个字符</translation>
    </message>
    <message>
        <source>Weak: easy to guess</source>
        <translation>弱：容易被猜到</translation>
    </message>
    <message>
        <source>Fair: a few more words would help</source>
        <translation>一般：再加几个词会更安全</translation>
    </message>
    <message>
        <source>Strong</source>
        <translation>强</translation>
    </message>
    <message>
        <source>Very strong</source>
        <translation>很强</translation>
    </message>
</context>
<context>
    <name>PassphraseFields</name>
    <message>
        <source>New passphrase</source>
        <translation>新密码</translation>
    </message>
    <message>
        <source>Repeat the passphrase</source>
        <translation>再次输入密码</translation>
    </message>
    <message>
        <source>Passphrase strength</source>
        <translation>密码强度</translation>
    </message>
    <message>
        <source>Passphrase:</source>
        <translation>密码：</translation>
    </message>
    <message>
        <source>Repeat:</source>
        <translation>确认密码：</translation>
    </message>
    <message>
        <source>Use a few unrelated words; longer is stronger.</source>
        <translation>用几个互不相关的词组成，越长越安全。</translation>
    </message>
    <message>
        <source>The two passphrases differ.</source>
        <translation>两次输入的密码不一致。</translation>
    </message>
</context>
<context>
    <name>PassphrasePage</name>
    <message>
        <source>Choose a passphrase</source>
        <translation>设置密码</translation>
    </message>
    <message>
        <source>It encrypts everything Enclave stores. It cannot be reset without the recovery key.</source>
        <translation>Enclave 保存的所有内容都用它加密。没有恢复密钥就无法重置。</translation>
    </message>
    <message>
        <source>Create vault</source>
        <translation>创建保险库</translation>
    </message>
</context>
<context>
    <name>PrivacyView</name>
    <message>
        <source>Privacy</source>
        <translation>隐私</translation>
    </message>
    <message>
        <source>What leaves this computer</source>
        <translation>哪些数据会离开这台电脑</translation>
    </message>
    <message>
        <source>Telemetry: none.</source>
        <translation>遥测：无。</translation>
    </message>
    <message>
        <source>Enclave sends nothing anywhere: no usage statistics, no crash reports, no update checks. Models run here; conversations, settings and logs are stored encrypted with your passphrase.</source>
        <translation>Enclave 不向任何地方发送任何数据：没有使用统计，没有崩溃报告，也不检查更新。模型在本机运行；对话、设置和日志都用你的密码加密保存。</translation>
    </message>
    <message>
        <source>Where your data lives</source>
        <translation>数据存放位置</translation>
    </message>
    <message>
        <source>Data folder:</source>
        <translation>数据文件夹：</translation>
    </message>
    <message>
        <source>Encrypted vault:</source>
        <translation>加密保险库：</translation>
    </message>
    <message>
        <source>Models:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>Backups:</source>
        <translation>备份：</translation>
    </message>
    <message>
        <source>Open data folder</source>
        <translation>打开数据文件夹</translation>
    </message>
    <message>
        <source>Passphrase and retention</source>
        <translation>密码与保留期限</translation>
    </message>
    <message>
        <source>Change passphrase…</source>
        <translation>更改密码…</translation>
    </message>
    <message>
        <source>Change passphrase</source>
        <translation>更改密码</translation>
    </message>
    <message>
        <source>Lock after minutes without activity</source>
        <translation>闲置多少分钟后自动锁定</translation>
    </message>
    <message>
        <source>never</source>
        <translation>从不</translation>
    </message>
    <message>
        <source> min</source>
        <translation> 分钟</translation>
    </message>
    <message>
        <source>Keep conversations and request logs for</source>
        <translation>对话和请求日志的保留时间</translation>
    </message>
    <message>
        <source>Forever</source>
        <translation>永久</translation>
    </message>
    <message numerus="yes">
        <source>%n day(s)</source>
        <translation>
            <numerusform>%n 天</numerusform>
        </translation>
    </message>
    <message>
        <source>Passphrase:</source>
        <translation>密码：</translation>
    </message>
    <message>
        <source>Auto-lock after:</source>
        <translation>闲置后锁定：</translation>
    </message>
    <message>
        <source>Keep history for:</source>
        <translation>历史保留：</translation>
    </message>
    <message>
        <source>Conversations untouched for longer are erased for good, and older API request records deleted.</source>
        <translation>超过期限未动过的对话将被永久清除，更早的 API 请求记录也会删除。</translation>
    </message>
    <message>
        <source>Whether this device remembers the passphrase</source>
        <translation>此设备是否记住了密码</translation>
    </message>
    <message>
        <source>Forget this device</source>
        <translation>忘记此设备</translation>
    </message>
    <message>
        <source>Forget the passphrase remembered on this device</source>
        <translation>删除此设备记住的密码</translation>
    </message>
    <message>
        <source>This device:</source>
        <translation>此设备：</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>Display language</source>
        <translation>界面语言</translation>
    </message>
    <message>
        <source>Same as the system ({language})</source>
        <translation>跟随系统（{language}）</translation>
    </message>
    <message>
        <source>Display language:</source>
        <translation>界面语言：</translation>
    </message>
    <message>
        <source>Dates, numbers and file sizes follow the language. The change applies at once.</source>
        <translation>日期、数字和文件大小的格式随语言变化。更改立即生效。</translation>
    </message>
    <message>
        <source>Export and erase</source>
        <translation>导出与清除</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <source>Export this conversation</source>
        <translation>导出此对话</translation>
    </message>
    <message>
        <source>Erase…</source>
        <translation>清除…</translation>
    </message>
    <message>
        <source>Erase this conversation</source>
        <translation>清除此对话</translation>
    </message>
    <message>
        <source>Export all…</source>
        <translation>全部导出…</translation>
    </message>
    <message>
        <source>Export all conversations</source>
        <translation>导出全部对话</translation>
    </message>
    <message>
        <source>Erase everything…</source>
        <translation>全部清除…</translation>
    </message>
    <message>
        <source>Erase all conversations</source>
        <translation>清除全部对话</translation>
    </message>
    <message>
        <source>Export and erase status</source>
        <translation>导出与清除状态</translation>
    </message>
    <message>
        <source>Exports are plain, unencrypted JSON: keep them somewhere safe. Erasing destroys the conversation&apos;s key, so its text can never be decrypted again.</source>
        <translation>导出的文件是未加密的 JSON，请妥善保管。清除会销毁对话的密钥，其内容将永远无法再解密。</translation>
    </message>
    <message>
        <source>Audit log</source>
        <translation>审计日志</translation>
    </message>
    <message>
        <source>#</source>
        <translation>序号</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Event</source>
        <translation>事件</translation>
    </message>
    <message>
        <source>By</source>
        <translation>操作方</translation>
    </message>
    <message>
        <source>Details</source>
        <translation>详情</translation>
    </message>
    <message>
        <source>Audit log entries</source>
        <translation>审计日志条目</translation>
    </message>
    <message>
        <source>Verify chain</source>
        <translation>校验日志链</translation>
    </message>
    <message>
        <source>Verify the audit log</source>
        <translation>校验审计日志</translation>
    </message>
    <message>
        <source>Audit verification result</source>
        <translation>审计校验结果</translation>
    </message>
    <message>
        <source>Every unlock, key change, export and erase, chained so edits show.</source>
        <translation>每次解锁、密钥变更、导出和清除都会记录，并逐条链接，任何改动都会暴露。</translation>
    </message>
    <message numerus="yes">
        <source>✔ The audit chain is intact: all %n entries shown are linked and unaltered.</source>
        <translation>
            <numerusform>✔ 审计链完整：显示的全部 %n 条记录环环相扣，未被改动。</numerusform>
        </translation>
    </message>
    <message>
        <source>Entries #1 to #{last} were removed by the retention rule; the chain records where it now starts.</source>
        <translation>第 1 至第 {last} 条记录已按保留规则删除；审计链记录了它现在的起点。</translation>
    </message>
    <message>
        <source>Remembers the passphrase in the system keyring: Enclave opens without asking.</source>
        <translation>已在系统钥匙串中记住密码：打开 Enclave 时无需输入。</translation>
    </message>
    <message>
        <source>Asks for the passphrase at every start.</source>
        <translation>每次启动都需要输入密码。</translation>
    </message>
    <message>
        <source>Asks for the passphrase at every start (this system has no keyring).</source>
        <translation>每次启动都需要输入密码（此系统没有可用的钥匙串）。</translation>
    </message>
    <message>
        <source>This device no longer remembers the passphrase.</source>
        <translation>此设备已不再记住密码。</translation>
    </message>
    <message>
        <source>Export conversations</source>
        <translation>导出对话</translation>
    </message>
    <message>
        <source>JSON files (*.json)</source>
        <translation>JSON 文件 (*.json)</translation>
    </message>
    <message>
        <source>Exporting…</source>
        <translation>正在导出…</translation>
    </message>
    <message>
        <source>Export failed: {error}</source>
        <translation>导出失败：{error}</translation>
    </message>
    <message>
        <source>Erase conversation</source>
        <translation>清除对话</translation>
    </message>
    <message>
        <source>“{title}” will be erased for good. This cannot be undone.</source>
        <translation>“{title}”将被永久清除，此操作无法撤销。</translation>
    </message>
    <message>
        <source>ERASE</source>
        <translation>清除</translation>
    </message>
    <message>
        <source>Erase</source>
        <translation>清除</translation>
    </message>
    <message>
        <source>Erase everything</source>
        <translation>全部清除</translation>
    </message>
    <message>
        <source>ERASE ALL</source>
        <translation>全部清除</translation>
    </message>
    <message numerus="yes">
        <source>%n conversation(s) erased.</source>
        <translation>
            <numerusform>已清除 %n 个对话。</numerusform>
        </translation>
    </message>
    <message>
        <source>Conversation erased.</source>
        <translation>对话已清除。</translation>
    </message>
    <message>
        <source>✔ Passphrase changed. Use the new one from now on; your recovery key stays the same.</source>
        <translation>✔ 密码已更改。今后请使用新密码；恢复密钥保持不变。</translation>
    </message>
    <message>
        <source>Retention unchanged; nothing was erased.</source>
        <translation>保留期限未更改；未删除任何内容。</translation>
    </message>
    <message numerus="yes">
        <source>%n conversation(s)</source>
        <translation>
            <numerusform>%n 个对话</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n API request record(s)</source>
        <translation>
            <numerusform>%n 条 API 请求记录</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>the prompt and reply texts of %n API request(s)</source>
        <translation>
            <numerusform>%n 个 API 请求的提示词和回复文本</numerusform>
        </translation>
    </message>
    <message>
        <source>; </source>
        <translation>；</translation>
    </message>
    <message>
        <source>forever</source>
        <translation>永久</translation>
    </message>
    <message>
        <source>Keeping history for {period} erases now, for good: {items}. This cannot be undone.</source>
        <translation>将历史保留期限设为 {period} 会立即永久删除：{items}。此操作无法撤销。</translation>
    </message>
    <message>
        <source>Erase old data?</source>
        <translation>删除旧数据？</translation>
    </message>
    <message>
        <source>Erase and apply</source>
        <translation>删除并应用</translation>
    </message>
    <message>
        <source>Old data erased: {items}.</source>
        <translation>旧数据已删除：{items}。</translation>
    </message>
    <message>
        <source>Retention changed; nothing needed erasing yet.</source>
        <translation>保留期限已更改；目前没有需要删除的内容。</translation>
    </message>
    <message>
        <source>Exported to {path}. The file is not encrypted: keep it somewhere safe.</source>
        <translation>已导出到 {path}。该文件未加密：请妥善保管。</translation>
    </message>
    <message>
        <source>All {count} conversations, and the texts of the API request log, will be erased for good. This cannot be undone.</source>
        <translation>全部 {count} 个对话以及 API 请求日志中的文本将被永久清除，此操作无法撤销。</translation>
    </message>
    <message>
        <source>Erasing…</source>
        <translation>正在清除…</translation>
    </message>
    <message>
        <source>Erase failed</source>
        <translation>清除失败</translation>
    </message>
    <message>
        <source>Verifying…</source>
        <translation>正在校验…</translation>
    </message>
    <message>
        <source>✘ {error}</source>
        <translation>✘ {error}</translation>
    </message>
</context>
<context>
    <name>RecoveryDialog</name>
    <message>
        <source>Recover with your recovery key</source>
        <translation>使用恢复密钥找回</translation>
    </message>
    <message>
        <source>Enter the recovery key you were shown when Enclave was set up, then choose a new passphrase. Without the passphrase or the recovery key nobody can open your data, not even us.</source>
        <translation>请输入设置 Enclave 时显示的恢复密钥，然后设置新密码。没有密码或恢复密钥，任何人都无法打开你的数据，我们也不例外。</translation>
    </message>
    <message>
        <source>Recovery key</source>
        <translation>恢复密钥</translation>
    </message>
    <message>
        <source>XXXXX-XXXXX-XXXXX-…</source>
        <translation>XXXXX-XXXXX-XXXXX-…</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Reset passphrase</source>
        <translation>重置密码</translation>
    </message>
    <message>
        <source>Recovery key:</source>
        <translation>恢复密钥：</translation>
    </message>
    <message>
        <source>Checking the recovery key…</source>
        <translation>正在验证恢复密钥…</translation>
    </message>
    <message>
        <source>That recovery key does not open this vault. Check it and try again.</source>
        <translation>此恢复密钥无法打开这个保险库。请检查后重试。</translation>
    </message>
</context>
<context>
    <name>RecoveryPage</name>
    <message>
        <source>Your recovery key</source>
        <translation>你的恢复密钥</translation>
    </message>
    <message>
        <source>If you forget your passphrase, this key is the only way back in. It is shown only now.</source>
        <translation>如果忘记密码，这是找回数据的唯一途径。它只显示这一次。</translation>
    </message>
    <message>
        <source>Creating your encrypted vault…</source>
        <translation>正在创建加密保险库…</translation>
    </message>
    <message>
        <source>Recovery key</source>
        <translation>恢复密钥</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Save to file…</source>
        <translation>保存到文件…</translation>
    </message>
    <message>
        <source>Save recovery key to a file</source>
        <translation>将恢复密钥保存到文件</translation>
    </message>
    <message>
        <source>Print…</source>
        <translation>打印…</translation>
    </message>
    <message>
        <source>Print recovery key</source>
        <translation>打印恢复密钥</translation>
    </message>
    <message>
        <source>I have written it down or saved it somewhere safe</source>
        <translation>我已抄写下来或保存在安全的地方</translation>
    </message>
    <message>
        <source>I have written down the recovery key</source>
        <translation>我已记下恢复密钥</translation>
    </message>
    <message>
        <source>Where the recovery key was saved</source>
        <translation>恢复密钥的保存位置</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>继续</translation>
    </message>
    <message>
        <source>Your vault is ready. Keep this key apart from this computer.</source>
        <translation>保险库已就绪。请把这个密钥存放在这台电脑之外的地方。</translation>
    </message>
    <message>
        <source>The vault could not be created: {error}</source>
        <translation>无法创建保险库：{error}</translation>
    </message>
    <message>
        <source>Enclave recovery key

{key}

Keep it safe and apart from this computer.
</source>
        <translation>Enclave 恢复密钥

{key}

请妥善保管，并存放在这台电脑之外的地方。
</translation>
    </message>
    <message>
        <source>No USB stick or other removable drive was found, so the dialog starts in your home folder. A recovery key on the computer it protects is lost with it: prefer a USB stick, or print it.</source>
        <translation>未找到 U 盘或其他可移动驱动器，因此对话框从您的主文件夹开始。恢复密钥若保存在它所保护的电脑上，会与电脑一同丢失：最好存到 U 盘，或打印出来。</translation>
    </message>
    <message>
        <source>Save recovery key</source>
        <translation>保存恢复密钥</translation>
    </message>
    <message>
        <source>Text files (*.txt)</source>
        <translation>文本文件 (*.txt)</translation>
    </message>
    <message>
        <source>Saved to {path}. That is the same drive as your vault: copy it to a USB stick or print it, then delete this copy.</source>
        <translation>已保存到 {path}。它与保险库在同一块磁盘上：请复制到 U 盘或打印出来，然后删除这份副本。</translation>
    </message>
    <message>
        <source>✔ Saved to {path}. Keep it apart from this computer.</source>
        <translation>✔ 已保存到 {path}。请将它与这台电脑分开保管。</translation>
    </message>
</context>
<context>
    <name>RemotesBox</name>
    <message>
        <source>Organisation servers</source>
        <translation>机构服务器</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Address</source>
        <translation>地址</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Connect to your organisation&apos;s server…</source>
        <translation>连接到贵机构的服务器…</translation>
    </message>
    <message>
        <source>Connect to your organisation&apos;s server</source>
        <translation>连接到贵机构的服务器</translation>
    </message>
    <message>
        <source>Check</source>
        <translation>检查</translation>
    </message>
    <message>
        <source>Ask the servers for their models now</source>
        <translation>立即向服务器查询其模型</translation>
    </message>
    <message>
        <source>Remove…</source>
        <translation>移除…</translation>
    </message>
    <message>
        <source>Remove the organisation server</source>
        <translation>移除机构服务器</translation>
    </message>
    <message>
        <source>Models of a paired server appear in the chat&apos;s model picker with the server&apos;s name. Your conversations stay on this computer, encrypted.</source>
        <translation>已配对服务器的模型会带着服务器名称出现在聊天的模型选择器中。您的对话仍加密保存在本机。</translation>
    </message>
    <message>
        <source>Organisation servers status</source>
        <translation>机构服务器状态</translation>
    </message>
    <message>
        <source>paired as {device}</source>
        <translation>配对名称 {device}</translation>
    </message>
    <message>
        <source>Every server answered.</source>
        <translation>所有服务器均已响应。</translation>
    </message>
    <message>
        <source>Checking…</source>
        <translation>正在检查…</translation>
    </message>
    <message>
        <source>Remove “{name}”? This computer forgets its key; your conversations stay.</source>
        <translation>移除“{name}”？本机将删除它的密钥；您的对话会保留。</translation>
    </message>
    <message>
        <source>Remove server</source>
        <translation>移除服务器</translation>
    </message>
</context>
<context>
    <name>ReportDialog</name>
    <message>
        <source>Record of processing activities</source>
        <translation>处理活动记录</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Save…</source>
        <translation>保存…</translation>
    </message>
    <message>
        <source>Save the record to a file</source>
        <translation>将记录保存到文件</translation>
    </message>
    <message>
        <source>Generated from the live configuration: names and counts, never content.</source>
        <translation>根据当前配置生成：仅含名称和数量，绝不包含内容。</translation>
    </message>
    <message>
        <source>Save record</source>
        <translation>保存记录</translation>
    </message>
    <message>
        <source>Text files (*.txt)</source>
        <translation>文本文件 (*.txt)</translation>
    </message>
    <message>
        <source>Save failed</source>
        <translation>保存失败</translation>
    </message>
</context>
<context>
    <name>RestoreDialog</name>
    <message>
        <source>Everything in Enclave is replaced by the backup “{name}” ({size}, written {date}). Conversations and settings made since then are lost; a copy of the current vault is kept in the Backups folder.</source>
        <translation>Enclave 中的全部内容将被备份“{name}”（{size}，写于 {date}）替换。此后产生的对话和设置将丢失；当前保险库的副本会保存在备份文件夹中。</translation>
    </message>
    <message>
        <source>Restore from a backup</source>
        <translation>从备份恢复</translation>
    </message>
    <message>
        <source>RESTORE</source>
        <translation>恢复</translation>
    </message>
    <message>
        <source>Restore</source>
        <translation>恢复</translation>
    </message>
    <message>
        <source>Passphrase of the backup</source>
        <translation>备份的密码</translation>
    </message>
</context>
<context>
    <name>SecretDialog</name>
    <message>
        <source>Your new API key</source>
        <translation>新的 API 密钥</translation>
    </message>
    <message>
        <source>API key secret</source>
        <translation>API 密钥内容</translation>
    </message>
    <message>
        <source>Copy key</source>
        <translation>复制密钥</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Key “{name}” was created.</source>
        <translation>密钥“{name}”已创建。</translation>
    </message>
    <message>
        <source>Copy it now: this is the only time it is shown. Enclave keeps only a hash of it.</source>
        <translation>请立即复制：它只显示这一次。Enclave 只保存它的哈希值。</translation>
    </message>
    <message>
        <source>To run the examples on the Server page, first run this line in the same terminal:</source>
        <translation>要运行“服务器”页上的示例，请先在同一个终端中运行这一行：</translation>
    </message>
    <message>
        <source>Command that sets the key (Linux, macOS)</source>
        <translation>设置密钥的命令（Linux、macOS）</translation>
    </message>
    <message>
        <source>Command that sets the key (Windows PowerShell)</source>
        <translation>设置密钥的命令（Windows PowerShell）</translation>
    </message>
    <message>
        <source>Linux, macOS:</source>
        <translation>Linux、macOS：</translation>
    </message>
    <message>
        <source>Windows PowerShell:</source>
        <translation>Windows PowerShell：</translation>
    </message>
    <message>
        <source>Copy command</source>
        <translation>复制命令</translation>
    </message>
</context>
<context>
    <name>ServerView</name>
    <message>
        <source>Local server</source>
        <translation>本地服务</translation>
    </message>
    <message>
        <source>An OpenAI-compatible endpoint for other programs on this computer (or your network). Every request needs an API key, and is logged encrypted.</source>
        <translation>为本机（或局域网）上的其他程序提供兼容 OpenAI 的接口。每个请求都需要 API 密钥，并加密记录在日志中。</translation>
    </message>
    <message>
        <source>Host to listen on</source>
        <translation>监听的主机地址</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <source>Default reply length in tokens</source>
        <translation>默认回复长度（Token 数）</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> Token</translation>
    </message>
    <message>
        <source>The most a reply may run when a request sets no max_tokens (requests may ask for up to {cap}).</source>
        <translation>请求未设置 max_tokens 时回复的最大长度（请求最多可要求 {cap}）。</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>启动</translation>
    </message>
    <message>
        <source>Start or stop the server</source>
        <translation>启动或停止服务</translation>
    </message>
    <message>
        <source>Server status</source>
        <translation>服务状态</translation>
    </message>
    <message>
        <source>Server URL</source>
        <translation>服务地址</translation>
    </message>
    <message>
        <source>Copy URL</source>
        <translation>复制地址</translation>
    </message>
    <message>
        <source>Host:</source>
        <translation>主机：</translation>
    </message>
    <message>
        <source>Port:</source>
        <translation>端口：</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Req./min</source>
        <translation>请求/分钟</translation>
    </message>
    <message>
        <source>Tokens/day</source>
        <translation>Token/天</translation>
    </message>
    <message>
        <source>Network access</source>
        <translation>网络访问</translation>
    </message>
    <message>
        <source>Network</source>
        <translation>网络</translation>
    </message>
    <message>
        <source>Default reply length:</source>
        <translation>默认回复长度：</translation>
    </message>
    <message>
        <source>Logs</source>
        <translation>日志</translation>
    </message>
    <message>
        <source>full text</source>
        <translation>完整文本</translation>
    </message>
    <message>
        <source>metadata only</source>
        <translation>仅元数据</translation>
    </message>
    <message>
        <source>Prompts and replies are kept, encrypted.</source>
        <translation>提示词和回复会加密保存。</translation>
    </message>
    <message>
        <source>Only time, model, status and token counts are kept.</source>
        <translation>只保存时间、模型、状态和Token 数。</translation>
    </message>
    <message>
        <source>Expires</source>
        <translation>到期</translation>
    </message>
    <message>
        <source>never</source>
        <translation>永不</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>API keys</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <source>Create key…</source>
        <translation>创建密钥…</translation>
    </message>
    <message>
        <source>Create API key</source>
        <translation>创建 API 密钥</translation>
    </message>
    <message>
        <source>Revoke…</source>
        <translation>吊销…</translation>
    </message>
    <message>
        <source>Revoke API key</source>
        <translation>吊销 API 密钥</translation>
    </message>
    <message>
        <source>Show revoked</source>
        <translation>显示已吊销</translation>
    </message>
    <message>
        <source>Show revoked keys</source>
        <translation>显示已吊销的密钥</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Key</source>
        <translation>密钥</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Tokens in/out</source>
        <translation>输入/输出 Token</translation>
    </message>
    <message>
        <source>Cached</source>
        <translation>已缓存</translation>
    </message>
    <message>
        <source>Latency</source>
        <translation>延迟</translation>
    </message>
    <message>
        <source>Recent requests</source>
        <translation>最近的请求</translation>
    </message>
    <message>
        <source>Recent requests (live)</source>
        <translation>最近的请求（实时）</translation>
    </message>
    <message>
        <source>Model for the examples</source>
        <translation>示例使用的模型</translation>
    </message>
    <message>
        <source>curl example</source>
        <translation>curl 示例</translation>
    </message>
    <message>
        <source>Python example</source>
        <translation>Python 示例</translation>
    </message>
    <message>
        <source>curl</source>
        <translation>curl</translation>
    </message>
    <message>
        <source>Python</source>
        <translation>Python</translation>
    </message>
    <message>
        <source>Try it</source>
        <translation>试一试</translation>
    </message>
    <message>
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>They read the key from ENCLAVE_API_KEY: create a key, run the line its dialog shows, then paste an example into the same terminal.</source>
        <translation>示例从 ENCLAVE_API_KEY 读取密钥：先创建密钥，运行其对话框显示的那一行，再把示例粘贴到同一个终端。</translation>
    </message>
    <message>
        <source>Only programs on this computer can reach it.</source>
        <translation>只有本机上的程序可以访问。</translation>
    </message>
    <message>
        <source>Other machines on your network could reach this address, so Enclave listens there only once an API key exists: create one under API keys first.</source>
        <translation>网络中的其他机器可以访问此地址，因此只有在存在 API 密钥后 Enclave 才会在此监听：请先在“API 密钥”中创建一个。</translation>
    </message>
    <message>
        <source>Other machines on your network can reach this address; each request needs one of the API keys below.</source>
        <translation>网络中的其他机器可以访问此地址；每个请求都需要下面的某个 API 密钥。</translation>
    </message>
    <message>
        <source>set it first: export ENCLAVE_API_KEY=… (the key dialog shows the line)</source>
        <translation>请先设置：export ENCLAVE_API_KEY=…（密钥对话框会显示这一行）</translation>
    </message>
    <message>
        <source>Tools…</source>
        <translation>工具…</translation>
    </message>
    <message>
        <source>Register MCP tool servers and allow their tools</source>
        <translation>注册 MCP 工具服务并允许其工具</translation>
    </message>
    <message>
        <source>pending</source>
        <translation>处理中</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>This computer only</source>
        <translation>仅本机</translation>
    </message>
    <message>
        <source>Every network this computer is on</source>
        <translation>本机所在的所有网络</translation>
    </message>
    <message>
        <source>Only this network address</source>
        <translation>仅此网络地址</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>This build has no HTTP endpoint.</source>
        <translation>此版本不包含 HTTP 接口。</translation>
    </message>
    <message>
        <source>● Running</source>
        <translation>● 运行中</translation>
    </message>
    <message>
        <source>○ Stopped</source>
        <translation>○ 已停止</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <source>revoked {date}</source>
        <translation>已于 {date} 吊销</translation>
    </message>
    <message>
        <source>revoked</source>
        <translation>已吊销</translation>
    </message>
    <message>
        <source>expired</source>
        <translation>已到期</translation>
    </message>
    <message>
        <source>active since {date}</source>
        <translation>自 {date} 起有效</translation>
    </message>
    <message>
        <source>active</source>
        <translation>有效</translation>
    </message>
    <message>
        <source>Revoke key</source>
        <translation>吊销密钥</translation>
    </message>
    <message>
        <source>Revoke “{name}”? Programs using it are refused from now on.</source>
        <translation>要吊销“{name}”吗？此后使用它的程序都将被拒绝。</translation>
    </message>
</context>
<context>
    <name>SourcesBlock</name>
    <message>
        <source>Sources (click one to see it in its document)</source>
        <translation>来源（点击可在原文档中查看）</translation>
    </message>
    <message>
        <source>Sources of the answer</source>
        <translation>回答的来源</translation>
    </message>
    <message>
        <source>None of the documents matched the question.</source>
        <translation>没有文档与问题匹配。</translation>
    </message>
    <message>
        <source>{document}, page {page}</source>
        <translation>{document}，第 {page} 页</translation>
    </message>
</context>
<context>
    <name>TlsBox</name>
    <message>
        <source>HTTPS and pairing</source>
        <translation>HTTPS 与配对</translation>
    </message>
    <message>
        <source>Use HTTPS</source>
        <translation>使用 HTTPS</translation>
    </message>
    <message>
        <source>HTTPS (TLS)</source>
        <translation>HTTPS（TLS）</translation>
    </message>
    <message>
        <source>Certificate</source>
        <translation>证书</translation>
    </message>
    <message>
        <source>Self-signed, made by Enclave</source>
        <translation>自签名，由 Enclave 生成</translation>
    </message>
    <message>
        <source>My certificate files</source>
        <translation>我自己的证书文件</translation>
    </message>
    <message>
        <source>Certificate file (PEM)</source>
        <translation>证书文件（PEM）</translation>
    </message>
    <message>
        <source>Key file (PEM)</source>
        <translation>密钥文件（PEM）</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>Choose certificate</source>
        <translation>选择证书</translation>
    </message>
    <message>
        <source>Choose key</source>
        <translation>选择密钥</translation>
    </message>
    <message>
        <source>Certificate fingerprint (SHA-256)</source>
        <translation>证书指纹（SHA-256）</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Pair a device…</source>
        <translation>配对设备…</translation>
    </message>
    <message>
        <source>Pair a device</source>
        <translation>配对设备</translation>
    </message>
    <message>
        <source>Certificate:</source>
        <translation>证书：</translation>
    </message>
    <message>
        <source>Key:</source>
        <translation>密钥：</translation>
    </message>
    <message>
        <source>Choose the certificate</source>
        <translation>选择证书</translation>
    </message>
    <message>
        <source>Choose the private key</source>
        <translation>选择私钥</translation>
    </message>
    <message>
        <source>PEM files (*.pem *.crt *.key);;All files (*)</source>
        <translation>PEM 文件 (*.pem *.crt *.key);;所有文件 (*)</translation>
    </message>
    <message>
        <source>SHA-256:</source>
        <translation>SHA-256：</translation>
    </message>
    <message>
        <source>Devices can pair with this server only over HTTPS.</source>
        <translation>设备只能通过 HTTPS 与此服务器配对。</translation>
    </message>
    <message>
        <source>The certificate is made when the server first starts with HTTPS.</source>
        <translation>证书会在服务器首次以 HTTPS 启动时生成。</translation>
    </message>
    <message>
        <source>Paired devices check this fingerprint on every connection.</source>
        <translation>已配对设备每次连接时都会核对此指纹。</translation>
    </message>
</context>
<context>
    <name>ToolApproval</name>
    <message>
        <source>{tool} (server {server})</source>
        <translation>{tool}（服务 {server}）</translation>
    </message>
    <message>
        <source>The model wants to call the tool {tool}.</source>
        <translation>模型想要调用工具 {tool}。</translation>
    </message>
    <message>
        <source>Arguments of the tool call</source>
        <translation>工具调用的参数</translation>
    </message>
    <message>
        <source>Approve</source>
        <translation>批准</translation>
    </message>
    <message>
        <source>Run the tool with these arguments</source>
        <translation>用这些参数运行该工具</translation>
    </message>
    <message>
        <source>Deny</source>
        <translation>拒绝</translation>
    </message>
    <message>
        <source>Do not run the tool; the model is told it was denied</source>
        <translation>不运行该工具；模型会被告知调用已被拒绝</translation>
    </message>
    <message>
        <source>Nothing runs until you approve.</source>
        <translation>在你批准之前不会运行任何东西。</translation>
    </message>
</context>
<context>
    <name>ToolsDialog</name>
    <message>
        <source>Tools (MCP servers)</source>
        <translation>工具（MCP 服务）</translation>
    </message>
    <message>
        <source>Server name</source>
        <translation>服务名称</translation>
    </message>
    <message>
        <source>e.g. tickets</source>
        <translation>例如：tickets</translation>
    </message>
    <message>
        <source>How to reach the server</source>
        <translation>连接服务的方式</translation>
    </message>
    <message>
        <source>Command (stdio)</source>
        <translation>命令（stdio）</translation>
    </message>
    <message>
        <source>URL (Streamable HTTP)</source>
        <translation>URL（Streamable HTTP）</translation>
    </message>
    <message>
        <source>Command or URL</source>
        <translation>命令或 URL</translation>
    </message>
    <message>
        <source>e.g. /opt/tools/tickets-mcp --read-only</source>
        <translation>例如：/opt/tools/tickets-mcp --read-only</translation>
    </message>
    <message>
        <source>Add</source>
        <translation>添加</translation>
    </message>
    <message>
        <source>Register the server and list its tools</source>
        <translation>注册该服务并列出其工具</translation>
    </message>
    <message>
        <source>Servers and their tools</source>
        <translation>服务及其工具</translation>
    </message>
    <message>
        <source>Server / tool</source>
        <translation>服务 / 工具</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>说明</translation>
    </message>
    <message>
        <source>Allowed</source>
        <translation>已允许</translation>
    </message>
    <message>
        <source>Without asking</source>
        <translation>无需询问</translation>
    </message>
    <message>
        <source>Remove server</source>
        <translation>移除服务器</translation>
    </message>
    <message>
        <source>Forget the selected server</source>
        <translation>移除所选服务</translation>
    </message>
    <message>
        <source>Tools status</source>
        <translation>工具状态</translation>
    </message>
    <message>
        <source>Tools are not offered to any model until you allow them. Each call is shown to the person for approval unless you tick “Without asking”; every call is recorded in the audit log.</source>
        <translation>在你允许之前，工具不会提供给任何模型。除非勾选“无需询问”，每次调用都会先交给使用者批准；每次调用都记录在审计日志中。</translation>
    </message>
    <message>
        <source>Give the server a name and a command or URL.</source>
        <translation>请为服务填写名称以及命令或 URL。</translation>
    </message>
    <message>
        <source>Contacting the server…</source>
        <translation>正在连接服务…</translation>
    </message>
    <message>
        <source>{name}: {count} tools listed; none allowed yet.</source>
        <translation>{name}：已列出 {count} 个工具，尚未允许任何工具。</translation>
    </message>
</context>
<context>
    <name>TrainingView</name>
    <message>
        <source>Base model</source>
        <translation>基础模型</translation>
    </message>
    <message>
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Name of the adapted model</source>
        <translation>适配模型的名称</translation>
    </message>
    <message>
        <source>Epochs</source>
        <translation>训练轮数</translation>
    </message>
    <message>
        <source>LoRA rank</source>
        <translation>LoRA 秩</translation>
    </message>
    <message>
        <source>Learning rate</source>
        <translation>学习率</translation>
    </message>
    <message>
        <source>Legal basis</source>
        <translation>法律依据</translation>
    </message>
    <message>
        <source>Why this personal data may train a model (recorded)</source>
        <translation>为何可用此个人数据训练模型（将被记录）</translation>
    </message>
    <message>
        <source>Base model:</source>
        <translation>基础模型：</translation>
    </message>
    <message>
        <source>Import JSONL file…</source>
        <translation>导入 JSONL 文件…</translation>
    </message>
    <message>
        <source>Import a dataset file</source>
        <translation>导入数据集文件</translation>
    </message>
    <message>
        <source>A JSONL file in OpenAI&apos;s fine-tuning format: one {&quot;messages&quot;: [...]} object a line</source>
        <translation>OpenAI 微调格式的 JSONL 文件：每行一个 {&quot;messages&quot;: [...]} 对象</translation>
    </message>
    <message>
        <source>Dataset:</source>
        <translation>数据集：</translation>
    </message>
    <message>
        <source>Dataset import progress</source>
        <translation>数据集导入进度</translation>
    </message>
    <message>
        <source>Dataset import problems</source>
        <translation>数据集导入问题</translation>
    </message>
    <message>
        <source>Adapted model:</source>
        <translation>适配模型：</translation>
    </message>
    <message>
        <source>Epochs:</source>
        <translation>训练轮数：</translation>
    </message>
    <message>
        <source>LoRA rank:</source>
        <translation>LoRA 秩：</translation>
    </message>
    <message>
        <source>Learning rate:</source>
        <translation>学习率：</translation>
    </message>
    <message>
        <source>Legal basis:</source>
        <translation>法律依据：</translation>
    </message>
    <message>
        <source>Train</source>
        <translation>开始训练</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>New dataset from conversations…</source>
        <translation>从对话新建数据集…</translation>
    </message>
    <message>
        <source>New dataset from conversations</source>
        <translation>从对话新建数据集</translation>
    </message>
    <message>
        <source>Import a JSONL file in OpenAI&apos;s fine-tuning format, or build a dataset from conversations. Either is checked first and stored encrypted in the vault.</source>
        <translation>导入 OpenAI 微调格式的 JSONL 文件，或从对话构建数据集。两者都会先经过检查，再加密保存在保险库中。</translation>
    </message>
    <message>
        <source>Training progress</source>
        <translation>训练进度</translation>
    </message>
    <message>
        <source>Pick a base model and a dataset.</source>
        <translation>请选择基础模型和数据集。</translation>
    </message>
    <message>
        <source>Loss curve</source>
        <translation>损失曲线</translation>
    </message>
    <message>
        <source>Evaluation: base and adapted answers</source>
        <translation>评估：基础模型与适配模型的回答</translation>
    </message>
    <message>
        <source>The adapter&apos;s record</source>
        <translation>适配器的记录</translation>
    </message>
    <message>
        <source>Loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>Evaluation on held-out prompts</source>
        <translation>在留出提示上的评估</translation>
    </message>
    <message>
        <source>Record</source>
        <translation>记录</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <source>{name} ({rows} rows)</source>
        <translation>{name}（{rows} 行）</translation>
    </message>
    <message>
        <source>Import a dataset</source>
        <translation>导入数据集</translation>
    </message>
    <message>
        <source>JSONL datasets (*.jsonl *.json);;All files (*)</source>
        <translation>JSONL 数据集 (*.jsonl *.json);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Name of the dataset:</source>
        <translation>数据集名称：</translation>
    </message>
    <message>
        <source>Wait until the dataset being imported is stored.</source>
        <translation>请等待正在导入的数据集保存完毕。</translation>
    </message>
    <message>
        <source>Importing {file}…</source>
        <translation>正在导入 {file}…</translation>
    </message>
    <message>
        <source>Checking the rows and storing them encrypted…</source>
        <translation>正在检查各行并加密保存…</translation>
    </message>
    <message>
        <source>Dataset {name} imported: {rows} rows, {held_out} held out for evaluation.</source>
        <translation>数据集 {name} 已导入：{rows} 行，其中 {held_out} 行留作评估。</translation>
    </message>
    <message>
        <source>The dataset was not imported: {error}</source>
        <translation>数据集未导入：{error}</translation>
    </message>
    <message>
        <source>The file has {count} bad rows; nothing was imported. Fix them and import it again.</source>
        <translation>文件中有 {count} 行有误；未导入任何内容。请修正后重新导入。</translation>
    </message>
    <message>
        <source>Line {line}: {problem}</source>
        <translation>第 {line} 行：{problem}</translation>
    </message>
    <message>
        <source>Dataset {name} built from {rows} conversations.</source>
        <translation>已从 {rows} 个对话构建数据集 {name}。</translation>
    </message>
    <message>
        <source>{name} already exists: this is how it was trained.</source>
        <translation>{name} 已存在：以下是它的训练方式。</translation>
    </message>
    <message>
        <source>Pick a base model and a dataset first.</source>
        <translation>请先选择基础模型和数据集。</translation>
    </message>
    <message>
        <source>Preparing…</source>
        <translation>正在准备…</translation>
    </message>
    <message>
        <source>Stopping at the next step…</source>
        <translation>将在下一步停止…</translation>
    </message>
    <message>
        <source>{seconds} s left</source>
        <translation>剩余 {seconds} 秒</translation>
    </message>
    <message>
        <source>Step {step} of {total}, loss {loss}</source>
        <translation>第 {step}/{total} 步，损失 {loss}</translation>
    </message>
    <message>
        <source>Evaluating the adapter…</source>
        <translation>正在评估适配器…</translation>
    </message>
    <message>
        <source>Adapted model {name} is ready.</source>
        <translation>适配模型 {name} 已就绪。</translation>
    </message>
    <message>
        <source>Training stopped: {error}</source>
        <translation>训练已停止：{error}</translation>
    </message>
    <message>
        <source>Held-out loss: {before} before, {after} after.</source>
        <translation>留出集损失：训练前 {before}，训练后 {after}。</translation>
    </message>
    <message>
        <source>Prompt</source>
        <translation>提示</translation>
    </message>
    <message>
        <source>Expected</source>
        <translation>期望回答</translation>
    </message>
    <message>
        <source>Adapted model</source>
        <translation>适配模型</translation>
    </message>
    <message>
        <source>withdrawn</source>
        <translation>已撤回</translation>
    </message>
    <message>
        <source>ready</source>
        <translation>可用</translation>
    </message>
    <message>
        <source>licence unknown</source>
        <translation>许可证未知</translation>
    </message>
    <message>
        <source>Base model SHA-256</source>
        <translation>基础模型 SHA-256</translation>
    </message>
    <message>
        <source>Adapter SHA-256</source>
        <translation>适配器 SHA-256</translation>
    </message>
    <message>
        <source>{name}: trained on {rows} rows, {held_out} held out for evaluation</source>
        <translation>{name}：用 {rows} 行训练，{held_out} 行留作评估</translation>
    </message>
    <message>
        <source>Dataset SHA-256</source>
        <translation>数据集 SHA-256</translation>
    </message>
    <message>
        <source>Data subjects</source>
        <translation>数据主体</translation>
    </message>
    <message>
        <source>none labelled</source>
        <translation>未标注</translation>
    </message>
    <message>
        <source>none recorded</source>
        <translation>未记录</translation>
    </message>
    <message>
        <source>{epochs} epochs, LoRA rank {rank}, learning rate {lr}</source>
        <translation>{epochs} 轮，LoRA 秩 {rank}，学习率 {lr}</translation>
    </message>
    <message>
        <source>Trained</source>
        <translation>训练时间</translation>
    </message>
    <message>
        <source>{when} on {device}</source>
        <translation>{when}，在 {device} 上</translation>
    </message>
    <message>
        <source>Software</source>
        <translation>软件</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
</context>
<context>
    <name>TypedConfirmDialog</name>
    <message>
        <source>Type {word} to confirm:</source>
        <translation>请输入 {word} 以确认：</translation>
    </message>
    <message>
        <source>Confirmation word</source>
        <translation>确认词</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>Units</name>
    <message>
        <source>{ms} ms</source>
        <translation>{ms} 毫秒</translation>
    </message>
    <message>
        <source>{s} s</source>
        <translation>{s} 秒</translation>
    </message>
</context>
<context>
    <name>UnlockDialog</name>
    <message>
        <source>Unlock Enclave</source>
        <translation>解锁 Enclave</translation>
    </message>
    <message>
        <source>Enclave is locked</source>
        <translation>Enclave 已锁定</translation>
    </message>
    <message>
        <source>Your conversations are encrypted on this computer. Enter your passphrase to open them.</source>
        <translation>你的对话已加密保存在这台电脑上。输入密码即可打开。</translation>
    </message>
    <message>
        <source>Passphrase</source>
        <translation>密码</translation>
    </message>
    <message>
        <source>Unlock status</source>
        <translation>解锁状态</translation>
    </message>
    <message>
        <source>Remember on this device</source>
        <translation>在此设备上记住密码</translation>
    </message>
    <message>
        <source>Remember the passphrase on this device</source>
        <translation>在此设备上记住密码</translation>
    </message>
    <message>
        <source>Keeps the passphrase in the system keyring, so Enclave opens without asking. Anyone who can log in as you can then open it. Privacy → Forget this device undoes it.</source>
        <translation>把密码保存在系统钥匙串中，之后打开 Enclave 无需输入。这意味着任何能以你的身份登录这台电脑的人都能打开它。可在“隐私 → 忘记此设备”中撤销。</translation>
    </message>
    <message>
        <source>This system has no keyring to keep the passphrase in.</source>
        <translation>此系统没有可用于保存密码的钥匙串。</translation>
    </message>
    <message>
        <source>Forgot passphrase…</source>
        <translation>忘记密码…</translation>
    </message>
    <message>
        <source>Forgot passphrase</source>
        <translation>忘记密码</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <source>Unlock</source>
        <translation>解锁</translation>
    </message>
    <message>
        <source>Quit Enclave?</source>
        <translation>退出 Enclave？</translation>
    </message>
    <message>
        <source>Quitting closes Enclave. A running API server stops too, and programs using it are refused until Enclave runs again.</source>
        <translation>退出将关闭 Enclave。正在运行的 API 服务器也会停止，使用它的程序在 Enclave 再次运行前都会被拒绝。</translation>
    </message>
    <message>
        <source>Unlocking…</source>
        <translation>正在解锁…</translation>
    </message>
    <message>
        <source>Wrong passphrase. Try again.</source>
        <translation>密码错误，请重试。</translation>
    </message>
    <message>
        <source>Enclave is already open in another window or program (process {pid}).</source>
        <translation>Enclave 已在另一个窗口或程序中打开（进程 {pid}）。</translation>
    </message>
</context>
<context>
    <name>UpstreamsPanel</name>
    <message>
        <source>Upstreams</source>
        <translation>上游</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>URL</source>
        <translation>URL</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Add…</source>
        <translation>添加…</translation>
    </message>
    <message>
        <source>Add an upstream</source>
        <translation>添加上游</translation>
    </message>
    <message>
        <source>Remove…</source>
        <translation>移除…</translation>
    </message>
    <message>
        <source>Remove the selected upstream</source>
        <translation>移除所选上游</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Check the upstreams again</source>
        <translation>重新检查上游</translation>
    </message>
    <message>
        <source>Upstreams status</source>
        <translation>上游状态</translation>
    </message>
    <message>
        <source>Serving engines on your network (vLLM, llama.cpp server, Ollama) that model names are routed to; keys and logs stay here.</source>
        <translation>网络中的推理服务（vLLM、llama.cpp server、Ollama），模型名称会被路由到它们；密钥和日志留在本机。</translation>
    </message>
    <message>
        <source>Checking…</source>
        <translation>正在检查…</translation>
    </message>
    <message>
        <source>No upstream is registered.</source>
        <translation>尚未注册上游。</translation>
    </message>
    <message numerus="yes">
        <source>%n upstream(s) not reachable.</source>
        <translation>
            <numerusform>%n 个上游无法访问。</numerusform>
        </translation>
    </message>
    <message>
        <source>All upstreams answer.</source>
        <translation>所有上游均有响应。</translation>
    </message>
    <message>
        <source>ok ({latency} ms)</source>
        <translation>正常（{latency} 毫秒）</translation>
    </message>
    <message>
        <source>; missing: {models}</source>
        <translation>；缺少：{models}</translation>
    </message>
    <message>
        <source>problem: {problem}</source>
        <translation>问题：{problem}</translation>
    </message>
    <message>
        <source>Upstream “{name}” added.</source>
        <translation>已添加上游“{name}”。</translation>
    </message>
    <message>
        <source>Select an upstream to remove.</source>
        <translation>请选择要移除的上游。</translation>
    </message>
    <message>
        <source>Remove upstream</source>
        <translation>移除上游</translation>
    </message>
    <message>
        <source>Remove “{name}”? Its models are no longer offered, and its stored key is deleted.</source>
        <translation>移除“{name}”？它的模型将不再提供，保存的密钥也会被删除。</translation>
    </message>
    <message>
        <source>Upstream “{name}” removed.</source>
        <translation>已移除上游“{name}”。</translation>
    </message>
</context>
<context>
    <name>WelcomePage</name>
    <message>
        <source>Welcome to Enclave</source>
        <translation>欢迎使用 Enclave</translation>
    </message>
    <message>
        <source>A private AI workstation. Everything stays on this computer.</source>
        <translation>私有的 AI 工作站。所有内容都留在这台电脑上。</translation>
    </message>
    <message>
        <source>Models run on this machine. Nothing you type is sent anywhere.</source>
        <translation>模型在本机运行，你输入的任何内容都不会被发送出去。</translation>
    </message>
    <message>
        <source>Your conversations are stored encrypted, unlocked with a passphrase only you know.</source>
        <translation>你的对话加密保存，只有用你自己知道的密码才能解锁。</translation>
    </message>
    <message>
        <source>Telemetry: none. Enclave never phones home.</source>
        <translation>遥测：无。Enclave 从不向外回传任何数据。</translation>
    </message>
</context>
</TS>
