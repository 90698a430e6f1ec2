-- A stand-in for the parts of Reaper's API that stemma_separate.lua calls: one selected item
-- (its source, offset, length and position from the environment), an empty project, and the
-- defer loop run to its end. Prints what the script did, one line each:
--   TRACK <index> <name> <file> <position> <length>      MESSAGE <text>
-- Usage: lua5.4 reaper_mock.lua stemma_separate.lua
local env = os.getenv
local item, take, source, track = {}, {}, {}, { number = 1, P_NAME = "source" }
local deferred, clock, tracks = {}, 0, { track }

reaper = {
  ShowMessageBox = function(text) print("MESSAGE " .. text) end,
  ExecProcess = function(cmd)
    local pipe = io.popen(cmd .. " 2>&1")
    local out = pipe:read("a")
    local _, _, code = pipe:close()
    return tostring(code) .. "\n" .. out
  end,
  GetSelectedMediaItem = function() return item end,
  GetActiveTake = function() return take end,
  TakeIsMIDI = function() return false end,
  GetMediaItemTakeInfo_Value = function(_, key)
    return ({ D_PLAYRATE = tonumber(env("MOCK_PLAYRATE") or "1"),
              D_STARTOFFS = tonumber(env("MOCK_STARTOFFS")) })[key]
  end,
  GetMediaItemInfo_Value = function(_, key)
    return ({ D_LENGTH = tonumber(env("MOCK_LENGTH")),
              D_POSITION = tonumber(env("MOCK_POSITION")) })[key]
  end,
  GetMediaItemTake_Source = function() return source end,
  GetMediaSourceFileName = function() return env("MOCK_SOURCE") end,
  GetMediaItem_Track = function() return track end,
  GetMediaTrackInfo_Value = function(t, key) assert(key == "IP_TRACKNUMBER") return t.number end,
  GetProjectPath = function() return env("MOCK_PROJECT") end,
  RecursiveCreateDirectory = function(path) os.execute("mkdir -p '" .. path .. "'") end,
  InsertTrackAtIndex = function(index) table.insert(tracks, index + 1, { index = index }) end,
  GetTrack = function(_, index) return tracks[index + 1] end,
  GetSetMediaTrackInfo_String = function(t, key, value) t[key] = value end,
  AddMediaItemToTrack = function(t) t.item = {} return t.item end,
  AddTakeToMediaItem = function(i) i.take = {} return i.take end,
  PCM_Source_CreateFromFile = function(path) return { file = path } end,
  SetMediaItemTake_Source = function(tk, src) tk.source = src end,
  SetMediaItemInfo_Value = function(i, key, value) i[key] = value end,
  Undo_BeginBlock = function() end,
  Undo_EndBlock = function() end,
  UpdateArrange = function() end,
  time_precise = function() clock = clock + 0.25 return clock end,
  defer = function(fn) table.insert(deferred, fn) end,
}
gfx = { init = function() end, getchar = function() return 0 end, set = function() end,
        rect = function() end, drawstr = function() end, update = function() end,
        quit = function() end, x = 0, y = 0 }

dofile(arg[1])
while #deferred > 0 do table.remove(deferred, 1)() end
for i, t in ipairs(tracks) do
  if t ~= track then print(string.format("TRACK %d %s %s %.6f %.6f", i, t.P_NAME, t.item.take.source.file,
                      t.item.D_POSITION, t.item.D_LENGTH)) end
end
