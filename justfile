# Thin aliases over Pants for hands used to upstream's `just pod ...`. Pants does the work
# (and decides what is already built); each action is one ./pants command:
#
#   just pod build <variant>|all   ./pants package build_files/<variant>:<variant>  (all: build_files::)
#   just pod push <variant>|all    ./pants publish build_files/<variant>:<variant>  (all: build_files::)
#   just pod test <variant>|all    ./pants test on <variant>'s image tests: its own and every ancestor's
#   just pod graph                 ./pants run src/python/pods:pods -- graph
#
# Get just with `pip install rust-just` (or your distribution's `just` package).
# tests/unit/test_justfile.py runs the recipe below with the real just (PyPI's rust-just)
# and a stand-in ./pants, and checks each command; the recipe is plain bash reading its
# arguments as $1 and $2. [no-exit-message]: bad input is the recipe's own one line, without
# just's "recipe failed" line after it.

set positional-arguments := true

# build, push or test a pod (or all), or print the family chart
[no-exit-message]
pod action variant="":
    #!/usr/bin/env bash
    set -euo pipefail
    action="$1" variant="$2"
    if [[ "$action" == graph ]]; then exec ./pants run src/python/pods:pods -- graph; fi
    case "$action" in build | push | test) ;; *)
        echo "just pod: unknown action '$action'; expected build, push, test or graph" >&2; exit 2 ;;
    esac
    if [[ "$variant" == all ]]; then
        target="build_files::" tests=(test tests/images::)
    elif [[ -n "$variant" && -f "build_files/$variant/pod.yaml" ]]; then
        target="build_files/$variant:$variant"
        # A pod is tested as everything it inherits: every tests/images/<ancestor>:<variant>.
        tests=("--filter-address-regex=^tests/images/[^:]+:$variant\$" test tests/images::)
    else
        pods="$(cd build_files && printf '%s\n' */pod.yaml | cut -d/ -f1 | LC_ALL=C sort | tr '\n' ' ')"
        echo "just pod $action: '$variant' is not a pod; expected one of: ${pods}or all" >&2; exit 2
    fi
    case "$action" in
        build) exec ./pants package "$target" ;;
        push) exec ./pants publish "$target" ;;
        test) exec ./pants "${tests[@]}" ;;
    esac
