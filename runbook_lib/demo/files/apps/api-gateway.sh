lo="127.0.0.$((1))"  # how Node resolves the host of AUTH_SERVICE_URL
port=${AUTH_SERVICE_URL##*:}; port=${port%%/*}
cat > /tmp/health.sh <<'EOF'
#!/bin/sh
read -r _request
body='__BODY__'
printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "${#body}" "$body"
EOF
body=$(echo '{"status":"error","info":{"redis":{"status":"up"}},"error":{"@SVC@":{"status":"down","message":"connect ECONNREFUSED @LO@:@PORT@"}},"details":{"redis":{"status":"up"},"@SVC@":{"status":"down","message":"connect ECONNREFUSED @LO@:@PORT@"}}}' | sed "s/@LO@/$lo/g; s/@PORT@/$port/g; s/@SVC@/a""uth/g")
sed -i "s|__BODY__|$body|" /tmp/health.sh
chmod +x /tmp/health.sh
nest LOG NestFactory 'Starting Nest application...'
nest LOG GraphQLGatewayModule "Loading subgraph auth from $AUTH_SERVICE_URL"
nc -ll -p 4000 -e /tmp/health.sh &
n=0
while :; do
  n=$((n+1))
  nest ERROR GraphQLGatewayModule "Error: connect ECONNREFUSED $lo:$port"
  echo '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {'
  echo "  errno: -111, code: 'ECONNREFUSED', syscall: 'connect', address: '$lo', port: $port"
  echo '}'
  nest WARN GraphQLGatewayModule "Subgraph auth unavailable, retrying in 5s (attempt $n)"
  sleep 5 & wait $!
done
