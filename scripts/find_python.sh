# shellcheck shell=bash
# Source me: find_python X.Y prints the path of a working pythonX.Y (on PATH, or under pyenv's
# versions, as these machines have 3.11 to 3.13), or nothing.
find_python() {
  local want=$1 p
  for p in "$(command -v "python$want" 2>/dev/null || true)" \
           "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python3; do
    if [ -z "$p" ] || [ ! -x "$p" ]; then continue; fi
    if [ "$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; then
      echo "$p"
      return 0
    fi
  done
}
