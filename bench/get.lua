-- wrk: GET with the bearer token in $WRK_TOKEN (none when empty).
local token = os.getenv("WRK_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
