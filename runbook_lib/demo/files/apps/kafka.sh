cat > /tmp/kafka.awk <<'EOF'
@KAFKA_AWK@EOF
cat > /tmp/kafka.sh <<'EOF'
@KAFKA_SH@EOF
chmod +x /tmp/kafka.sh

k() { date -u '+%Y-%m-%d %H:%M:%S,000'; }
echo "[$(k)] INFO Registered broker 1 at path /brokers/ids/1 with addresses: PLAINTEXT://kafka:9092 (kafka.zk.KafkaZkClient)"
echo "[$(k)] INFO [KafkaServer id=1] started (kafka.server.KafkaServer)"

nc -ll -p 9092 -e /tmp/kafka.sh &
idle
