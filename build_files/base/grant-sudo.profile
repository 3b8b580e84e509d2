# Root on request, never by default: a pod started as root (--user 0) with GRANT_SUDO=yes
# gives jovian passwordless sudo, then runs the command as jovian. pods-entrypoint sources
# every /etc/profile.d/pods-*.sh; login shells do too, and for them this does nothing.
if [ "${0##*/}" = pods-entrypoint ] && [ "${GRANT_SUDO:-}" = yes ]; then
  if [ "$(id -u)" = 0 ]; then
    echo 'jovian ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/pods-grant-sudo
    chmod 0440 /etc/sudoers.d/pods-grant-sudo
    export HOME=/home/jovian USER=jovian LOGNAME=jovian
    # Again through the entrypoint, so every pod's environment is loaded for jovian.
    exec setpriv --reuid=jovian --regid=jovian --init-groups "$0" "$@"
  elif [ ! -e /etc/sudoers.d/pods-grant-sudo ]; then
    echo "pods-entrypoint: GRANT_SUDO=yes takes effect only when the pod starts as root: add --user 0" >&2
  fi
fi
