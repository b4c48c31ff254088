#!/usr/bin/env bash
# macOS: Enclave.app and a .dmg, signed and notarised when the credentials are there.
#
# Usage: packaging/macos/build_app.sh [metal|cpu]        (default: metal, Apple silicon)
#
# Environment (all optional; without them the app is built unsigned, fine for local testing):
#   MACOS_SIGN_IDENTITY   "Developer ID Application: Org Name (TEAMID)" in the login keychain
#   MACOS_NOTARY_PROFILE  a `xcrun notarytool store-credentials` profile name
# See SIGNING.md next to this script.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VARIANT="${1:-metal}"
bash "$ROOT/packaging/build_bundle.sh" "$VARIANT"

APP="$ROOT/dist/Enclave.app"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/engine/__init__.py")"
DMG="$ROOT/dist/enclave-$VERSION-macos-$(uname -m)-$VARIANT.dmg"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    # Inside out: every Mach-O file first, then the bundle. --deep is not used: it signs in an
    # order Apple does not support and skips files outside the code folders.
    find "$APP/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 |
        while IFS= read -r -d '' file; do
            if file -b "$file" | grep -q 'Mach-O'; then
                codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
                    --sign "$MACOS_SIGN_IDENTITY" "$file"
            fi
        done
    codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
        --sign "$MACOS_SIGN_IDENTITY" "$APP"
    codesign --verify --strict --verbose=2 "$APP"
fi

# The disk image: the app and a link to /Applications to drag it onto.
STAGE="$ROOT/build/package/dmg"
rm -rf "$STAGE" "$DMG" && mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Enclave $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
    if [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
        xcrun notarytool submit "$DMG" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
        xcrun stapler staple "$DMG"
        spctl --assess --type open --context context:primary-signature --verbose "$DMG"
    fi
fi
echo "dmg: $DMG ($(du -h "$DMG" | cut -f1))"
