if [ -x /usr/bin/redis-server ]; then
  exec redis-server --bind 0.0.0.0 --port 6379 --protected-mode no --requirepass "${REDIS_PASSWORD}" --save '' --appendonly no
fi
cat > /tmp/resp.sh <<'EOF'
@RESP_SH@EOF
chmod +x /tmp/resp.sh
echo "1:M $(date -u '+%d %b %Y %H:%M:%S.000') * Server initialized (RESP stand-in: AUTH, PING)"
echo "1:M $(date -u '+%d %b %Y %H:%M:%S.000') * Ready to accept connections tcp"
nc -ll -p 6379 -e /tmp/resp.sh &
idle
