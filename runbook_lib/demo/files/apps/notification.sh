nest LOG NestFactory 'Starting Nest application...'
nest LOG TemplateCacheService 'Warming template cache (all locales)...'
sleep 1
x=$(head -c 200000000 /dev/zero | tr '\0' x)
nest LOG TemplateCacheService "cache ready (${#x} bytes)"
idle
