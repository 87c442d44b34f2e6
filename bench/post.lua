-- wrk: POST the body in $WRK_BODY with the bearer token in $WRK_TOKEN, and count non-2xx answers.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
