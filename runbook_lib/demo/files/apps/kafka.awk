function o(x) { return sprintf("\\%03o", x) }
function i16(x) { if (x < 0) x += 65536; return o(int(x / 256) % 256) o(x % 256) }
function i32(x) { if (x < 0) x += 4294967296; return o(int(x / 16777216) % 256) o(int(x / 65536) % 256) o(int(x / 256) % 256) o(x % 256) }
function s16(p) { return (b[p] * 256 + b[p + 1] + 32768) % 65536 - 32768 }
function s32(p) { return ((b[p] * 16777216 + b[p + 1] * 65536 + b[p + 2] * 256 + b[p + 3]) + 2147483648) % 4294967296 - 2147483648 }
function str(s,   r, i) { r = i16(length(s)); for (i = 1; i <= length(s); i++) r = r o(ord[substr(s, i, 1)]); return r }
BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i }
{ for (i = 1; i <= NF; i++) b[++n] = $i }
END {
  if (n < 10) exit
  api = s16(1); ver = s16(3); cid = o(b[5]) o(b[6]) o(b[7]) o(b[8])
  p = 9; cl = s16(p); p += 2; if (cl > 0) p += cl
  if (api == 18) {
    body = i16(ver > 0 ? 35 : 0) i32(2) i16(3) i16(0) i16(1) i16(18) i16(0) i16(0)
  } else if (api == 3 && (ver == 0 || ver == 1)) {
    body = i32(1) i32(node) str(host) i32(port)
    if (ver == 1) body = body i16(-1) i32(node)
    nt = (p + 3 <= n) ? s32(p) : 0; p += 4; topics = ""; cnt = 0
    for (t = 0; t < nt && p + 1 <= n; t++) {
      l = s16(p); name = i16(l); for (j = 0; j < l; j++) name = name o(b[p + 2 + j]); p += 2 + l
      topics = topics i16(3) name (ver == 1 ? o(0) : "") i32(0); cnt++
    }
    body = body i32(cnt) topics
  } else exit
  msg = cid body
  printf "%s%s", i32(length(msg) / 4), msg
}
