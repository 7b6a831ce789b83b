#!/bin/sh
# The guest's HTTP endpoint for the QEMU test, run by `nc -l -e` once per connection: keeps the
# request head in /tmp/http-head and its body in /tmp/http-body, and answers 201 as provd would.
cr=$(printf '\r')
len=0
while IFS= read -r line; do
	line=${line%"$cr"}
	[ -z "$line" ] && break
	echo "$line" >> /tmp/http-head
	case "$line" in
	[Cc]ontent-[Ll]ength:*) len=${line#*:} ;;
	esac
done
head -c $((len)) > /tmp/http-body
body='{"status":"OK","seqn":7}'
printf 'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n'
printf 'Content-Length: %d\r\nConnection: close\r\n\r\n%s' ${#body} "$body"
