mkdir -p /www
printf '%s' '{"status":"ok","info":{"database":{"status":"up"},"redis":{"status":"up"}},"error":{},"details":{"database":{"status":"up"},"redis":{"status":"up"}}}' > /www/health
nest LOG NestFactory 'Starting Nest application...'
nest LOG InstanceLoader 'TypeOrmModule dependencies initialized'
nest LOG InstanceLoader 'TerminusModule dependencies initialized'
nest LOG RoutesResolver '@CTX@ {/api/v1/@NAME@}:'
nest LOG RouterExplorer 'Mapped {/health, GET} route'
httpd -p @PORT@ -h /www
nest LOG NestApplication 'Nest application successfully started'
nest LOG Bootstrap '@NAME@ listening on port @PORT@'
idle
