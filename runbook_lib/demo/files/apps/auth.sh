nest LOG NestFactory 'Starting Nest application...'
nest LOG TypeOrmModule "Connecting to $DATABASE_URL"
cat >&2 <<'EOF'
node:internal/modules/cjs/loader:1148
  throw err;
  ^

Error: Cannot find module '@opentelemetry/api'
Require stack:
- /app/node_modules/.pnpm/@opentelemetry+sdk-trace-base@1.17.0/node_modules/@opentelemetry/sdk-trace-base/build/src/Tracer.js
- /app/dist/telemetry/tracing.js
- /app/dist/main.js
    at Module._resolveFilename (node:internal/modules/cjs/loader:1145:15)
    at Module._load (node:internal/modules/cjs/loader:986:27)
    at Module.require (node:internal/modules/cjs/loader:1233:19)
    at require (node:internal/modules/cjs/helpers:177:18)
    at Object.<anonymous> (/app/dist/telemetry/tracing.js:4:15)
    at Module._compile (node:internal/modules/cjs/loader:1358:14) {
  code: 'MODULE_NOT_FOUND',
  requireStack: [
    '/app/dist/telemetry/tracing.js',
    '/app/dist/main.js'
  ]
}

Node.js v20.11.1
EOF
exit 1
