// Preloaded into the conformance suite's Node processes by conformance.sh
// (NODE_OPTIONS=--require): Node 19+ keeps HTTP connections alive by default,
// and the suite's consistency helper (test/helper.js genDelay) throws inside a
// callback when a reused connection is closed by the server's idle timeout at
// the wrong moment (ECONNRESET), which leaves the run hanging forever. One
// connection per request, as the suite was written for.
'use strict';
const http = require('http');
const https = require('https');
http.globalAgent = new http.Agent({ keepAlive: false });
https.globalAgent = new https.Agent({ keepAlive: false });
