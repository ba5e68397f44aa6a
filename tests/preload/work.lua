-- work.lua N: tables, string building and pattern matching in Lua.
local n = tonumber(arg[1]) or 100000
local t = {}
for i = 1, n do
  t[i] = { id = i, name = "n" .. (i * 7919 % 100003), list = { i, i * 2, i * 3 } }
  if i % 1000 == 0 then for j = i - 999, i - 500 do t[j] = nil end end
end
local count, s = 0, 0
for _, v in pairs(t) do count = count + 1; s = s + v.list[3] % 97 end
local words = {}
for w in string.gmatch(string.rep("alpha beta gamma delta ", n // 4), "%a+") do
  words[w] = (words[w] or 0) + 1
end
local parts = {}
for i = 1, n do parts[#parts + 1] = tostring(i) end
local big = table.concat(parts, ",")
print(count, s, words.alpha, words.delta, #big)
