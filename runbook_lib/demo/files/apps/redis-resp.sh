#!/bin/sh
exec 2>/dev/null
cr=$(printf '\r')
ok=no; [ -z "$REDIS_PASSWORD" ] && ok=yes
reply() { printf '%s\r\n' "$1"; }
while read -r head; do
  head=${head%"$cr"}
  case $head in
    '*'*) n=${head#?}; set --
          while [ "$n" -gt 0 ]; do read -r _len; read -r a; set -- "$@" "${a%"$cr"}"; n=$((n-1)); done ;;
    '') continue ;;
    *) set -- $head ;;
  esac
  cmd=$(echo "$1" | tr a-z A-Z)
  case $cmd in
    AUTH) pw=$2; [ $# -ge 3 ] && pw=$3
          if [ "$pw" = "$REDIS_PASSWORD" ]; then ok=yes; reply +OK
          else reply '-WRONG''PASS invalid username-password pair or user is disabled.'; fi ;;
    HELLO) proto=${2:-2}; shift; [ $# -gt 0 ] && shift
          if [ "$1" = AUTH ] || [ "$1" = auth ]; then
            if [ "$3" = "$REDIS_PASSWORD" ]; then ok=yes
            else reply '-WRONG''PASS invalid username-password pair or user is disabled.'; continue; fi
          fi
          if [ "$ok" != yes ]; then reply '-NO''AUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time'; continue; fi
          case $proto in 2) reply '*14' ;; 3) reply '%7' ;; *) reply '-NOPROTO unsupported protocol version'; continue ;; esac
          for kv in server redis version 7.2.4 proto "$proto" id 1 mode standalone role master; do
            case $kv in "$proto"|1) reply ":$kv" ;; *) reply "\$${#kv}"; reply "$kv" ;; esac
          done
          reply '$7'; reply modules; reply '*0' ;;
    *) if [ "$ok" != yes ]; then reply '-NO''AUTH Authentication required.'; continue; fi
       case $cmd in
         PING) if [ $# -ge 2 ]; then reply "\$${#2}"; reply "$2"; else reply +PONG; fi ;;
         ECHO) reply "\$${#2}"; reply "$2" ;;
         SELECT|CLIENT) reply +OK ;;
         *) reply "-ERR unknown command '$1', with args beginning with: " ;;
       esac ;;
  esac
done
