ts() { date -u '+%m/%d/%Y, %I:%M:%S %p'; }
nest() { printf '[Nest] 1  - %s %7s [%s] %s\n' "$(ts)" "$1" "$2" "$3"; }
trap 'exit 0' TERM INT
idle() { while :; do sleep 5 & wait $!; done; }
