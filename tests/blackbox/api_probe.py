# Adversarial black-box probe of a running Api (issue 16): forged, expired, foreign-key and none-alg tokens; odd
# ids, amounts, keys, headers, methods and content types; a caller debiting and reading what it does not own.
# Exits 1 on any 5xx, any answer other than the expected one, or money moved without ownership.
# Usage, with `up` running: python3 tests/blackbox/api_probe.py http://127.0.0.1:PORT .run/development-signing-key
import base64, hashlib, hmac, json, sys, time, uuid, urllib.request, urllib.error, collections
base, keyfile = sys.argv[1], sys.argv[2]
key = open(keyfile).read().strip().encode()
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
def jwt(claims, alg='HS256', k=key, header=None):
    h = header or {'alg': alg, 'typ': 'JWT'}
    body = b64(json.dumps(h).encode()) + '.' + b64(json.dumps(claims).encode())
    if alg == 'none': return body + '.'
    dig = {'HS256': hashlib.sha256, 'HS384': hashlib.sha384, 'HS512': hashlib.sha512}[alg]
    return body + '.' + b64(hmac.new(k, body.encode(), dig).digest())
now = int(time.time())
def claims(sub, roles, iat=None, exp=None, **extra):
    c = {'sub': sub, 'role': roles, 'iss': 'saga-dev', 'aud': 'saga-api', 'iat': iat or now, 'nbf': iat or now, 'exp': exp or now + 600}
    c.update(extra); return c
run = uuid.uuid4().hex[:6]
alice, mallory, op = f'probe-alice-{run}', f'probe-mallory-{run}', f'probe-op-{run}'
good = {n: jwt(claims(s, r)) for n, s, r in [('op', op, ['operator', 'transfers']), ('alice', alice, ['transfers']), ('mallory', mallory, ['transfers'])]}
bad = {
    'expired 60 s ago': jwt(claims(op, ['operator'], iat=now - 660, exp=now - 60)),
    'alg none': jwt(claims(op, ['operator']), alg='none'),
    'HS512 with the key': jwt(claims(op, ['operator']), alg='HS512'),
    'HS384 with the key': jwt(claims(op, ['operator']), alg='HS384'),
    'foreign key': jwt(claims(op, ['operator']), k=b'x' * 64),
    'lifetime 1 day': jwt(claims(op, ['operator'], exp=now + 86400)),
    'no exp': jwt({k: v for k, v in claims(op, ['operator']).items() if k != 'exp'}),
    'tampered role': good['alice'].split('.')[0] + '.' + b64(json.dumps(claims(alice, ['operator'])).encode()) + '.' + good['alice'].split('.')[2],
    'wrong audience': jwt(claims(op, ['operator'], aud='other')),
    'no sub': jwt({k: v for k, v in claims(op, ['operator']).items() if k != 'sub'}),
    'garbage': 'not.a.token', 'empty': '',
}
statuses = collections.Counter(); fails = []
def call(method, path, token=None, body=None, ctype='application/json', headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if token is not None: req.add_header('Authorization', 'Bearer ' + token)
    if data is not None and ctype: req.add_header('Content-Type', ctype)
    for k, v in (headers or {}).items(): req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r: st, txt, hdr = r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e: st, txt, hdr = e.code, e.read().decode(), e.headers
    statuses[st] += 1
    if st >= 500: fails.append(f'{st} {method} {path}: {txt[:200]}')
    return st, txt, hdr
def expect(what, got, *want):
    if got not in want: fails.append(f'{what}: got {got}, want {want}')
# accounts
A, M = f'alice-{run}', f'mallory-{run}'
expect('open alice', call('POST', '/ledgers/A/accounts', good['op'], {'accountId': A, 'openingBalance': 1000, 'owner': alice})[0], 201)
expect('open mallory', call('POST', '/ledgers/B/accounts', good['op'], {'accountId': M, 'openingBalance': 0, 'owner': mallory})[0], 201)
# bad tokens everywhere
endpoints = [('GET', f'/ledgers/A/accounts/{A}', None), ('POST', '/transfers', {'from': {'ledger': 'A', 'accountId': A}, 'to': {'ledger': 'B', 'accountId': M}, 'amount': 1}),
             ('GET', '/transfers?state=Completed', None), ('POST', f'/transfers/{uuid.uuid4()}/refund', {'reason': 'x'}), ('POST', '/ledgers/A/accounts', {'accountId': 'x' + run, 'openingBalance': 5, 'owner': mallory})]
for name, tok in bad.items():
    for m, p, b in endpoints:
        st, txt, hdr = call(m, p, tok, b, headers={'Idempotency-Key': 'k-' + uuid.uuid4().hex})
        expect(f'{name} {m} {p}', st, 401)
        if 'error_description' in (hdr.get('WWW-Authenticate') or ''): fails.append(f'{name}: WWW-Authenticate explains: {hdr.get("WWW-Authenticate")}')
# role: transfers token on operator endpoints
expect('transfers opens account', call('POST', '/ledgers/A/accounts', good['mallory'], {'accountId': 'm2' + run, 'openingBalance': 10**6, 'owner': mallory})[0], 403)
expect('transfers refunds', call('POST', f'/transfers/{uuid.uuid4()}/refund', good['mallory'], {'reason': 'x'})[0], 403)
# ownership: mallory steals from alice
st, txt, hdr = call('POST', '/transfers', good['mallory'], {'from': {'ledger': 'A', 'accountId': A}, 'to': {'ledger': 'B', 'accountId': M}, 'amount': 500}, headers={'Idempotency-Key': 'steal-' + run})
expect('steal accepted', st, 202); steal = json.loads(txt)['transferId']
st, txt, _ = call('POST', '/transfers', good['alice'], {'from': {'ledger': 'A', 'accountId': A}, 'to': {'ledger': 'B', 'accountId': M}, 'amount': 7}, headers={'Idempotency-Key': 'pay-' + run})
expect('pay accepted', st, 202); pay = json.loads(txt)['transferId']
for _ in range(200):
    s1 = json.loads(call('GET', f'/transfers/{steal}', good['mallory'])[1]).get('state'); s2 = json.loads(call('GET', f'/transfers/{pay}', good['alice'])[1]).get('state')
    if s1 in ('RolledBack', 'Completed') and s2 in ('RolledBack', 'Completed'): break
    time.sleep(0.1)
expect('steal state', s1, 'RolledBack'); expect('pay state', s2, 'Completed')
expect('mallory reads alice account', call('GET', f'/ledgers/A/accounts/{A}', good['mallory'])[0], 404)
expect('mallory reads own account', call('GET', f'/ledgers/B/accounts/{M}', good['mallory'])[0], 200)
expect('mallory reads pay (credited to her)', call('GET', f'/transfers/{pay}', good['mallory'])[0], 200)
eve = jwt(claims('probe-eve-' + run, ['transfers']))
expect('eve reads pay', call('GET', f'/transfers/{pay}', eve)[0], 404)
expect('eve reads pay events', call('GET', f'/transfers/{pay}/events', eve)[0], 404)
lst = json.loads(call('GET', '/transfers?state=Completed&limit=200', eve)[1])
if any(t['transferId'] == pay for t in lst['items']): fails.append('eve lists pay')
bal = json.loads(call('GET', f'/ledgers/A/accounts/{A}', good['alice'])[1])['balance']; mb = json.loads(call('GET', f'/ledgers/B/accounts/{M}', good['mallory'])[1])['balance']
expect('alice balance', bal, 993); expect('mallory balance', mb, 7)
# odd ids, amounts, keys, headers, methods, content types
T = lambda fr, to, amt: {'from': {'ledger': 'A', 'accountId': fr}, 'to': {'ledger': 'B', 'accountId': to}, 'amount': amt}
for path in ['/ledgers/A/accounts/a%2Fb', '/ledgers/A/accounts/%2E%2E', '/ledgers/A/accounts/a%E2%80%8Bb', '/ledgers/A/accounts/%EF%BB%BFa', '/ledgers/A/accounts/a%00b',
             '/ledgers/A/accounts/' + 'x' * 65, '/ledgers/A/accounts/a%E2%80%AEb', '/ledgers/%00/accounts/x', '/ledgers/A/accounts/a%20b', '/transfers/not-a-guid', '/transfers?state=Completed&limit=abc',
             '/transfers?state=Completed&limit=1.5', '/transfers?state=Completed&limit=1e2', '/transfers?state=Completed&limit=', '/transfers?state=Completed&limit=1&limit=2',
             '/transfers?state=Completed&limit=99999999999', '/transfers?state=x', '/transfers?state=Completed&after=%00', '/transfers?foo=1&state=Completed']:
    expect('GET ' + path, call('GET', path, good['op'])[0], 400, 404)
for name, body in [('zero-width id', T('a\u200bb', M, 1)), ('bidi id', T('a\u202eb', M, 1)), ('BOM id', T('\ufeffa', M, 1)), ('slash id', T('a/b', M, 1)), ('dotdot id', T('..', M, 1)),
                   ('amount 0', T(A, M, 0)), ('amount -1', T(A, M, -1)), ('amount 3 decimals', T(A, M, 1.001)), ('amount huge', T(A, M, 1e30)), ('amount string', T(A, M, '5')),
                   ('amount null', T(A, M, None)), ('unknown prop', dict(T(A, M, 1), extra=1)), ('case', {'From': {'ledger': 'A', 'accountId': A}, 'to': {'ledger': 'B', 'accountId': M}, 'amount': 1}),
                   ('array', []), ('null', None), ('string', 'x'), ('same account', {'from': {'ledger': 'A', 'accountId': A}, 'to': {'ledger': 'A', 'accountId': A}, 'amount': 1}),
                   ('unknown ledger', {'from': {'ledger': 'Z', 'accountId': A}, 'to': {'ledger': 'B', 'accountId': M}, 'amount': 1})]:
    raw = json.dumps(body).encode() if name != 'null' else b'null'
    expect('POST ' + name, call('POST', '/transfers', good['alice'], raw=raw, headers={'Idempotency-Key': 'k-' + uuid.uuid4().hex})[0], 400, 422)
for name, raw in [('duplicate key', b'{"from":{"ledger":"A","accountId":"%s"},"to":{"ledger":"B","accountId":"%s"},"amount":3,"amount":7}' % (A.encode(), M.encode())),
                  ('1e400', b'{"from":{"ledger":"A","accountId":"a"},"to":{"ledger":"B","accountId":"b"},"amount":1e400}'), ('deep', b'[' * 10000 + b']' * 10000),
                  ('truncated', b'{"from":'), ('huge', b'{"x":"' + b'a' * 100000 + b'"}'), ('not utf8', b'\xff\xfe{}')]:
    expect('POST ' + name, call('POST', '/transfers', good['alice'], raw=raw, headers={'Idempotency-Key': 'k-' + uuid.uuid4().hex})[0], 400, 413)
for name, hdrs in [('no key', {}), ('empty key', {'Idempotency-Key': ''}), ('long key', {'Idempotency-Key': 'k' * 200}), ('non-ascii key', {'Idempotency-Key': 'k\u00e9'.encode('utf-8').decode('latin-1')})]:
    expect('POST ' + name, call('POST', '/transfers', good['alice'], T(A, M, 1), headers=hdrs)[0], 400)
for ct in [None, 'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data']:
    expect(f'content type {ct}', call('POST', '/transfers', good['alice'], T(A, M, 1), ctype=ct, headers={'Idempotency-Key': 'k-' + uuid.uuid4().hex})[0], 415)
for m in ['PUT', 'DELETE', 'PATCH']:
    expect(m + ' /transfers', call(m, '/transfers', good['alice'], T(A, M, 1))[0], 405)
    expect(m + ' account', call(m, f'/ledgers/A/accounts/{A}', good['op'], {})[0], 405)
bal = json.loads(call('GET', f'/ledgers/A/accounts/{A}', good['alice'])[1])['balance']
expect('alice balance at the end', bal, 993)
print(f'requests: {sum(statuses.values())}; statuses: {dict(sorted(statuses.items()))}')
print('violations:', len(fails)); [print(' -', f) for f in fails]
sys.exit(1 if fails else 0)
