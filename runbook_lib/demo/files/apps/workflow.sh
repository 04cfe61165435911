echo '> @vextrus/workflow@1.0.0 start:dev /app'
echo '> nest start'
echo
echo "$(date -u '+%I:%M:%S %p') - Starting compilation in watch mode..."
echo
sleep 1
cat <<'EOF'
src/activities/index.ts:42:10 - error TS2339: Property 'sendApprovalNotification' does not exist on type 'typeof import("/app/src/activities/notification.activities")'.

42   return sendApprovalNotification(input);
            ~~~~~~~~~~~~~~~~~~~~~~~~

src/workflows/invoice-approval.workflow.ts:18:5 - error TS2322: Type 'string' is not assignable to type 'Duration'.

18     startToCloseTimeout: timeout,
       ~~~~~~~~~~~~~~~~~~~

EOF
echo "$(date -u '+%I:%M:%S %p') - Found 2 errors. Watching for file changes."
sleep 1
exit 1
