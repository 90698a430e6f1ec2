-- Stemma: separate the selected item into stems (ReaScript, Lua).
--
-- Sends the selected item's source file and the part of it the item plays to a running
-- `stemma serve` (the Stemma app: Server > Local server), shows progress, then inserts one new
-- track per stem under the item's track, each with an item at the item's position and length.
--
-- Needs: curl on the PATH (Linux and macOS have it; Windows 10+ too), a running server.
-- Assumes the take plays its source forwards at playrate 1 (the region sent is D_STARTOFFS
-- to D_STARTOFFS + D_LENGTH in the source); other playrates are refused with a message.
-- Protocol: docs/server.md. Close the progress window to cancel the job.

local STEMS_FOLDER = "stemma"      -- under the project folder
local MODEL = "auto"               -- or a name from `stemma models`
local POLL_SECONDS = 0.5

local function say(text) reaper.ShowMessageBox(text, "Stemma", 0) end

local function shell_quote(s)
  if package.config:sub(1, 1) == "\\" then return '"' .. s:gsub('"', '\\"') .. '"' end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- The few fields this script reads, from the server's flat JSON answers.
local function field(json, key)
  local s = json:match('"' .. key .. '"%s*:%s*"(.-)"')
  if s then return s end
  local v = json:match('"' .. key .. '"%s*:%s*([%w%.%-+]+)')
  if v == "null" then return nil end
  return tonumber(v) or v
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function discovery()
  local dir = os.getenv("STEMMA_STATE_DIR")
  if not dir or dir == "" then
    local base = os.getenv("XDG_STATE_HOME")
    if not base or base == "" then
      base = (os.getenv("HOME") or os.getenv("USERPROFILE") or "") .. "/.local/state"
    end
    dir = base .. "/stemma"
  end
  local text = read_file(dir .. "/server.json")
  if not text then return nil end
  return { url = field(text, "url"), token = field(text, "token") }
end

local server

-- curl with the bearer token; returns the answer's body and curl's exit status.
local function curl(args)
  local cmd = "curl -sS --fail-with-body -H " .. shell_quote("Authorization: Bearer " .. server.token)
      .. " " .. args
  local out = reaper.ExecProcess(cmd, 0) or ""
  local status, body = out:match("^(%-?%d+)\n(.*)$")
  return body or out, tonumber(status) or -1
end

local function post_json(route, body)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(body)
  f:close()
  local answer, status = curl("-H " .. shell_quote("Content-Type: application/json")
      .. " --data-binary @" .. shell_quote(tmp) .. " " .. shell_quote(server.url .. route))
  os.remove(tmp)
  return answer, status
end

-- What the selected item plays: its source file, region and place on the timeline.
local function selected_region()
  local item = reaper.GetSelectedMediaItem(0, 0)
  if not item then return nil, "Select an audio item first." end
  local take = reaper.GetActiveTake(item)
  if not take or reaper.TakeIsMIDI(take) then return nil, "The selected item has no audio take." end
  if reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE") ~= 1 then
    return nil, "The take's playrate is not 1; this script sends the source region as is."
  end
  local source = reaper.GetMediaItemTake_Source(take)
  local path = reaper.GetMediaSourceFileName(source, "")
  if not path or path == "" then return nil, "The item's source is not a file." end
  local offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  local length = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  return { item = item, path = path, start = offset, finish = offset + length, length = length,
           position = reaper.GetMediaItemInfo_Value(item, "D_POSITION"),
           track = reaper.GetMediaItem_Track(item) }
end

local function insert_stems(region, job_id, answer)
  local folder = reaper.GetProjectPath("") .. "/" .. STEMS_FOLDER
  reaper.RecursiveCreateDirectory(folder, 0)
  local index = math.floor(reaper.GetMediaTrackInfo_Value(region.track, "IP_TRACKNUMBER"))
  reaper.Undo_BeginBlock()
  for stem in answer:match('"outputs"%s*:%s*(%b{})'):gmatch('"([%w_]+)"%s*:%s*{') do
    local file = string.format("%s/%s_%s.wav", folder, job_id, stem)
    local _, status = curl("-o " .. shell_quote(file) .. " "
        .. shell_quote(server.url .. "/v1/jobs/" .. job_id .. "/stems/" .. stem))
    if status ~= 0 then say("Could not download the stem " .. stem .. ".") break end
    reaper.InsertTrackAtIndex(index, true)
    local track = reaper.GetTrack(0, index)
    index = index + 1
    reaper.GetSetMediaTrackInfo_String(track, "P_NAME", stem, true)
    local item = reaper.AddMediaItemToTrack(track)
    local take = reaper.AddTakeToMediaItem(item)
    reaper.SetMediaItemTake_Source(take, reaper.PCM_Source_CreateFromFile(file))
    reaper.SetMediaItemInfo_Value(item, "D_POSITION", region.position)
    reaper.SetMediaItemInfo_Value(item, "D_LENGTH", region.length)
  end
  reaper.Undo_EndBlock("Stemma: separate item into stems", -1)
  reaper.UpdateArrange()
end

local function follow(region, job_id)
  local last_poll = 0
  gfx.init("Stemma: separating (close to cancel)", 420, 60)
  local function step()
    if gfx.getchar() < 0 then  -- the window was closed: cancel
      post_json("/v1/jobs/" .. job_id .. "/cancel", "{}")
      return
    end
    if reaper.time_precise() - last_poll >= POLL_SECONDS then
      last_poll = reaper.time_precise()
      local answer, status = curl(shell_quote(server.url .. "/v1/jobs/" .. job_id))
      local state = status == 0 and field(answer, "state") or "failed"
      local fraction = tonumber(field(answer, "fraction")) or 0
      gfx.set(0.15, 0.15, 0.15) gfx.rect(0, 0, 420, 60, 1)
      gfx.set(0.3, 0.7, 0.4) gfx.rect(10, 35, math.floor(400 * fraction), 15, 1)
      gfx.set(1, 1, 1) gfx.x, gfx.y = 10, 10
      local percent = math.floor(fraction * 100)  -- %d takes only integers in Lua 5.4
      gfx.drawstr(string.format("%s %d%%", field(answer, "stage") or state, percent))
      gfx.update()
      if state == "done" then gfx.quit() insert_stems(region, job_id, answer) return end
      if state == "failed" or state == "cancelled" then
        gfx.quit()
        say("The separation " .. state .. ": " .. (field(answer, "message") or answer))
        return
      end
    end
    reaper.defer(step)
  end
  step()
end

local function main()
  server = discovery()
  if not server then
    say("No Stemma server is running. Start one: the Stemma app's Server > Local server, "
        .. "or `stemma serve` in a terminal.")
    return
  end
  local region, why = selected_region()
  if not region then say(why) return end
  local body = string.format('{"input": %s, "model": %s, "start": %.6f, "end": %.6f}',
      json_string(region.path), json_string(MODEL), region.start, region.finish)
  local answer, status = post_json("/v1/jobs", body)
  local job_id = status == 0 and field(answer, "id")
  if not job_id then say("The server refused the job: " .. (field(answer, "message") or answer)) return end
  follow(region, job_id)
end

main()
