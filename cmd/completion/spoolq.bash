# spoolq.bash: bash completion for qsubmit, qworker, qstatus, qcollect,
# qcancel and qrun.
#
# One file for the six commands. It is installed once per command name
# (cmd/completion/meson.build), so bash-completion's lazy loading finds
# it whichever command is completed first; sourcing it defines all six.
# It needs nothing from bash-completion, so it also works sourced alone.
#
# Options complete from the lists below, which must hold exactly the
# long options of each command's option table (tests/docs/options.sh
# fails otherwise). A JOB completes to the ids and names of the jobs in
# the spool the command line names: --spool DIR, else $QSPOOL, else
# ./qspool.

_spoolq_opts_qsubmit='--spool --group --name --array --threads --after
  --kernel --arg --env --cwd --chunk --retries --timeout --priority --tasks
  --list-kernels --check --json --no-cache --each-worker --plugin
  --broadcast --mpi-threshold --help --version'
_spoolq_opts_qworker='--spool --cpus --exit-when-idle --no-exit-when-idle
  --max-tasks --grace --lease --plugin --verbose --no-fsync --no-events
  --mpi --mpi-threshold --mpi-mem --mpi-prefault --help --version'
_spoolq_opts_qstatus='--spool --tasks --json --wait --repair --dot --events
  --report --watch --help --version'
_spoolq_opts_qcollect='--spool --follow --json --output --no-wait --stderr
  --help --version'
_spoolq_opts_qcancel='--spool --help --version'
_spoolq_opts_qrun='--workers --spool --all --output --json --plugin
  --no-cache --quiet --help --version'

# The options that take a value in the next word (or after '=').
_spoolq_valued=' --spool --name --array --threads --after --kernel --arg
  --env --cwd --chunk --retries --timeout --priority --tasks --check
  --plugin --broadcast --mpi-threshold --cpus --max-tasks --grace --lease
  --mpi-mem --mpi-prefault --report --output --workers '

# Sets `words` and `cword` (the caller's locals) from COMP_WORDS and
# COMP_CWORD, with "--opt" "=" "value" (bash splits at '=') joined back
# into one word.
_spoolq_words()
{
	local i w n
	words=()
	cword=0
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		n=${#words[@]}
		if ((n > 0)) && [[ ${words[n-1]} == --* ]] &&
		   { [[ $w == = && ${words[n-1]} != *=* ]] ||
		     [[ ${COMP_WORDS[i-1]} == = && ${words[n-1]} == *= ]]; }
		then
			words[n-1]+=$w
		else
			words+=("$w")
		fi
		((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
	done
	return 0
}

# The spool named by the words before the cursor.
_spoolq_spool()
{
	local i spool=${QSPOOL:-qspool}
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--) break ;;
		--spool=*) spool=${words[i]#--spool=} ;;
		--spool) ((i + 1 < cword)) && spool=${words[i+1]} ;;
		esac
	done
	# A spool given as ~/x: the shell has not expanded it yet.
	# shellcheck disable=SC2088 # the literal '~/' is what is matched
	[[ $spool == '~/'* ]] && spool=$HOME/${spool#'~/'}
	printf '%s\n' "$spool"
}

# Print the ids of the jobs in spool $1, then their names (once each).
_spoolq_job_list()
{
	local d id key value
	local -A seen=()
	local -a names=()
	for d in "$1"/jobs/*/; do
		id=${d%/}
		id=${id##*/}
		[[ $id =~ ^[1-9][0-9]*$ ]] || continue
		printf '%s\n' "$id"
		# The job file's "name" line (names need no percent-decoding:
		# no name character is escaped).
		while read -r key value; do
			if [[ $key == name ]]; then
				[[ -n $value && -z ${seen[$value]} ]] &&
					seen[$value]=1 && names+=("$value")
				break
			fi
			[[ $key == end ]] && break
		done 2>/dev/null <"$d/job"
	done
	((${#names[@]})) && printf '%s\n' "${names[@]}"
	return 0
}

# The newest job id of reference $2 (an id or an exact name) in spool $1.
_spoolq_job_id()
{
	local d id key value found=
	if [[ $2 =~ ^[1-9][0-9]*$ ]]; then
		[[ -d $1/jobs/$2 ]] && printf '%s\n' "$2"
		return 0
	fi
	for d in "$1"/jobs/*/; do
		id=${d%/}
		id=${id##*/}
		[[ $id =~ ^[1-9][0-9]*$ ]] || continue
		while read -r key value; do
			if [[ $key == name ]]; then
				[[ $value == "$2" ]] &&
					((${found:-0} < id)) && found=$id
				break
			fi
			[[ $key == end ]] && break
		done 2>/dev/null <"$d/job"
	done
	[[ -n $found ]] && printf '%s\n' "$found"
	return 0
}

# The task names of job $2 (a reference) in spool $1, from its spec.
_spoolq_task_list()
{
	local id key name rest
	id=$(_spoolq_job_id "$1" "$2")
	[[ -n $id ]] || return 0
	while read -r key name rest; do
		[[ $key == group ]] && printf '%s\n' "$name"
		[[ $key == end ]] && break
	done 2>/dev/null <"$1/jobs/$id/spec"
	return 0
}

# Add to COMPREPLY the words of list $1 (one per line) that start with $2.
_spoolq_add()
{
	local w
	while IFS= read -r w; do
		[[ -n $w && $w == "$2"* ]] && COMPREPLY+=("$w")
	done <<<"$1"
	return 0
}

_spoolq_files()   # $1: the partial name; $2: a glob the files must match
{
	compopt -o filenames 2>/dev/null
	local f
	while IFS= read -r f; do
		[[ -n $f ]] || continue
		# shellcheck disable=SC2053 # $2 is a glob on purpose
		if [[ -d $f ]]; then
			COMPREPLY+=("$f")
		elif [[ -z $2 || $f == $2 ]]; then
			COMPREPLY+=("$f")
		fi
	done <<<"$(compgen -f -- "$1")"
	return 0
}

_spoolq_dirs()
{
	compopt -o filenames 2>/dev/null
	local f
	while IFS= read -r f; do
		[[ -n $f ]] && COMPREPLY+=("$f")
	done <<<"$(compgen -d -- "$1")"
	return 0
}

# Complete the value $2 of option $1 for command $3.
_spoolq_value()
{
	local opt=$1 cur=$2 cmd=$3 spool head
	case $opt in
	--spool | --cwd | --output) _spoolq_dirs "$cur" ;;
	--tasks | --broadcast) _spoolq_files "$cur" ;;
	--check) _spoolq_files "$cur" '*.y?(a)ml' ;;
	--plugin) _spoolq_files "$cur" '*.so*' ;;
	--report) _spoolq_files "$cur" '*.htm?(l)' ;;
	--kernel)
		# Kernel lines start in the first column ("pi   Monte-Carlo
		# ..."), their details are indented.
		_spoolq_add "$("$cmd" --list-kernels 2>/dev/null |
			while IFS= read -r line; do
				[[ $line == [!\ ]* ]] &&
					printf '%s\n' "${line%% *}"
			done)" "$cur"
		;;
	--after)
		# A comma-separated list: complete its last item.
		head=
		[[ $cur == *,* ]] && head=${cur%,*},
		spool=$(_spoolq_spool)
		local -a before=("${COMPREPLY[@]}")
		COMPREPLY=()
		_spoolq_add "$(_spoolq_job_list "$spool")" "${cur##*,}"
		COMPREPLY=("${before[@]}" "${COMPREPLY[@]/#/$head}")
		;;
	esac
	return 0
}

# The completion function of every spoolq command.
_spoolq()
{
	local cmd=${1##*/} words cword cur prev i w opts
	local -a positional=()
	local dashdash=
	COMPREPLY=()
	_spoolq_words
	cur=${words[cword]}
	local optsvar=_spoolq_opts_$cmd
	opts=${!optsvar}

	# Operands before the cursor; a value after its option is none.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ -n $dashdash ]]; then
			positional+=("$w")
		elif [[ $w == -- ]]; then
			dashdash=$i
		elif [[ $w == -* ]]; then
			[[ $w != *=* && $_spoolq_valued == *" $w "* ]] && ((i++))
		else
			positional+=("$w")
		fi
	done
	prev=
	((cword > 1)) && prev=${words[cword-1]}

	# qsubmit ... -- CMD ARGS: a command, then files.
	if [[ -n $dashdash ]]; then
		if ((cword == dashdash + 1)); then
			_spoolq_add "$(compgen -c -- "$cur")" "$cur"
		else
			_spoolq_files "$cur"
		fi
		return 0
	fi
	# The value of an option: "--opt VALUE" or "--opt=VALUE".
	if [[ $cur == --*=* ]]; then
		local opt=${cur%%=*} val=${cur#*=}
		_spoolq_value "$opt" "$val" "$1"
		# Bash replaces only what follows '=' when '=' breaks words.
		[[ $COMP_WORDBREAKS == *=* ]] ||
			COMPREPLY=("${COMPREPLY[@]/#/$opt=}")
		return 0
	fi
	if [[ -n $prev && $prev != *=* && $_spoolq_valued == *" $prev "* ]]
	then
		_spoolq_value "$prev" "$cur" "$1"
		return 0
	fi
	if [[ $cur == -* ]]; then
		# shellcheck disable=SC2086 # one option per word
		_spoolq_add "$(printf '%s\n' $opts)" "$cur"
		return 0
	fi

	local spool
	spool=$(_spoolq_spool)
	case $cmd in
	qstatus)
		_spoolq_add "$(_spoolq_job_list "$spool")" "$cur" ;;
	qcollect)
		((${#positional[@]} == 0)) &&
			_spoolq_add "$(_spoolq_job_list "$spool")" "$cur" ;;
	qcancel)
		if ((${#positional[@]} == 0)); then
			_spoolq_add "$(_spoolq_job_list "$spool")" "$cur"
		else
			_spoolq_add "$(_spoolq_task_list "$spool" \
				"${positional[0]}")" "$cur"
		fi
		;;
	qsubmit | qrun)
		((${#positional[@]} == 0)) && _spoolq_files "$cur" '*.y?(a)ml'
		;;
	esac
	return 0
}

complete -F _spoolq qsubmit qworker qstatus qcollect qcancel qrun
