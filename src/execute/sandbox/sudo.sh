#!/bin/bash
# labrun's `sudo` in a run's sandbox, first on the session's PATH.
#
# A tutorial's `sudo CMD` means "run CMD as root on the reader's machine". In a sandbox the
# session's machine is the sandbox, and its root is the session's own user (root only over
# the run's namespaces). The real sudo cannot help there: it reads the host's sudoers and
# PAM, writes its timestamps, and in a user namespace its setuid bit means nothing. So this
# one reads sudo's options (sudo(8)), then runs the command as the user asked for.
#
# Exit codes: the command's; 1 when sudo itself refuses, as sudo does.

user=root
login=
dir=
env_args=()

say() { printf 'sudo: %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    -u | --user) user=$2; shift 2 ;;
    --user=*) user=${1#*=}; shift ;;
    -D | --chdir) dir=$2; shift 2 ;;
    --chdir=*) dir=${1#*=}; shift ;;
    -g | --group | -h | --host | -p | --prompt | -C | --close-from | -r | --role | \
      -t | --type | -T | --command-timeout | -U | --other-user) shift 2 ;;
    --group=* | --host=* | --prompt=* | --close-from=* | --role=* | --type=* | \
      --command-timeout=* | --other-user=* | --preserve-env | --preserve-env=*) shift ;;
    -i | --login) login=1; shift ;;
    -s | --shell) login=${login:-shell}; shift ;;
    -l | --list | -v | --validate | -k | --reset-timestamp | -K | --remove-timestamp)
      # nothing to list or remember: the session is root already
      case $1 in -l | --list) echo "User $(id -un) may run the following commands: (ALL : ALL) ALL" ;; esac
      shift
      [ $# -eq 0 ] && exit 0 ;;
    -V | --version) echo "Sudo version (labrun's sandbox stand-in)"; exit 0 ;;
    --*) shift ;; # -E --preserve-env, -H --set-home, -n, -S, -b, -A, -P, -B, -N: no effect here
    -[a-zA-Z]*)
      # short flags run together (-Eu root, -iu bob, -u0)
      flags=${1#-}
      shift
      while [ -n "$flags" ]; do
        f=${flags:0:1}
        flags=${flags:1}
        case $f in
          u | D | g | h | p | C | r | t | T | U)
            if [ -n "$flags" ]; then value=$flags; flags=; else value=$1; shift; fi
            case $f in u) user=$value ;; D) dir=$value ;; esac ;;
          i) login=1 ;;
          s) login=${login:-shell} ;;
        esac
      done ;;
    *=*) env_args+=("$1"); shift ;;
    *) break ;;
  esac
done
# VAR=value words between the options and the command set the command's environment
while [ $# -gt 0 ] && [[ $1 == [A-Za-z_]*=* ]]; do env_args+=("$1"); shift; done

if [ "$(id -u)" != 0 ]; then
  say "this run's sandbox gives no root: labrun runs as $(id -un), and the sandbox maps only that user (run labrun as root for steps that need sudo)"
  exit 1
fi
if [ -n "$dir" ]; then
  cd -- "$dir" || exit 1
fi
if [ $# -eq 0 ]; then
  if [ -n "$login" ]; then
    # `sudo -i` / `sudo -s` with no command opens a root shell for the lines that follow:
    # the session is root already, so they run as root as they are
    exit 0
  fi
  say "a command is needed (usage: sudo [options] command)"
  exit 1
fi
if [ -n "$login" ]; then
  set -- bash -c "$*"
fi
case $user in
  root | 0 | '#0') exec env "${env_args[@]}" "$@" ;;
esac
if ! id -- "${user#\#}" > /dev/null 2>&1; then
  say "unknown user $user"
  exit 1
fi
exec env "${env_args[@]}" runuser -u "${user#\#}" -- "$@"
