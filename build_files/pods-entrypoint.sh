#!/bin/sh
# Entry point of every pod: the environment each pod's lock declares (pod.yaml `env:`) is
# written to /etc/profile.d/pods-*.sh by pods-install; load it for every command, not only
# for login shells, then run the command.
for f in /etc/profile.d/pods-*.sh; do
  # shellcheck source=/dev/null  # written at build time, one per pod
  [ -r "$f" ] && . "$f"
done
exec "$@"
