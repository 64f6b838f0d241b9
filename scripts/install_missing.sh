# Sourced by the scripts in this folder: install_missing WHO PACKAGE...
# installs, with apt, only the Debian packages that are not installed yet
# (apt-get update only when something is missing). WHO prefixes the message.
install_missing() {
  local who=$1
  shift
  local missing=() p sudo=
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "$who: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
