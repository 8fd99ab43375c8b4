# Reads .trx files; prints each failed spec's name, the first lines of its message and the line of the spec (not of
# the test helpers) where it failed: what a reader of only CI's tail needs to tell a flaky wait from a broken rule.
# Plain awk (mawk on Debian): a fresh machine has nothing more.
function unescape(s) { gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s); gsub(/&apos;/, "'", s); gsub(/&amp;/, "\\&", s); return s }
/<UnitTestResult / && /outcome="Failed"/ {
  name = $0; sub(/.* testName="/, "", name); sub(/".*/, "", name)
  print "failed spec: " unescape(name); failed = 1; lines = 0; next
}
failed && /<Message>/ { inmessage = 1; sub(/.*<Message>/, "") }
failed && inmessage {
  line = $0; closed = sub(/<\/Message>.*/, "", line)
  if (lines++ < 4) print "  " unescape(substr(line, 1, 400))
  if (closed) inmessage = 0
  next
}
failed && /<StackTrace>/ { instack = 1 }
failed && instack && / in .*:line [0-9]+/ && !/Saga\.Testing/ {
  line = $0; sub(/^.*<StackTrace>/, "", line); sub(/^ +/, "", line); sub(/ in .*\//, " in ", line)
  print "  " unescape(line); instack = 0
}
failed && /<\/UnitTestResult>/ { failed = 0; inmessage = 0; instack = 0 }
