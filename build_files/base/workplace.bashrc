# The pods' interactive bash: /etc/bash.bashrc sources this after its own early return for
# non-interactive shells, so scripts and `bash -c` never load any of it.
case $- in *i*) ;; *) return ;; esac

# Completion even when a mounted home has no ~/.bashrc to turn it on; bash_completion
# itself skips a second load.
if [ -z "${BASH_COMPLETION_VERSINFO:-}" ] && [ -r /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
fi

eval "$(starship init bash --print-full-init)"
# zoxide last: it adds its hook to PROMPT_COMMAND after starship's.
eval "$(zoxide init bash)"
# Ctrl-R, Ctrl-T and Alt-C through fzf.
if [ -r /usr/share/doc/fzf/examples/key-bindings.bash ]; then
  . /usr/share/doc/fzf/examples/key-bindings.bash
fi
