// A stack-free stand-in for the district's services, for browser tests of the
// kiosk and the app that need no built stack: one h2c server speaking gRPC
// (connect-node) with the catalog, recommend and records methods the screens
// call, each answered by a replaceable function, and an in-process gateway
// (createGateway) in front of it that treats 127.0.0.1 as the kiosk of VENUE.
// Tokens are unsigned JWT-shaped strings: the gateway only peeks at claims and
// the fake services check nothing.
import http2 from "node:http2";
import {
  Code, ConnectError, CourseCatalogService, LearningRecordService, RecommendationService, connectNodeAdapter,
  createGateway, parseKioskClients,
} from "../../services/web/testing.js";

export { Code, ConnectError };
export const VENUE = "dongsi-sqxx";
export const jwtOf = (claims) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;
export const kioskSession = (learner) => jwtOf({ role: "kiosk", venue: VENUE, learner, sub: `kiosk-${VENUE}` });
export const learnerToken = (learner) => jwtOf({ role: "learner", sub: learner });

const inAnHour = () => ({ seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 });
export function summary(id, title) {
  return { courseId: id, title, category: "书法", mode: 1, venueId: VENUE, venueName: "东四街道社区学校",
           nextSessionStart: inAnHour(), seatsLeft: 5, credits: 1 };
}
export function recommendations(titles) {
  return { recommendations: titles.map((t, i) => ({ course: summary(`c${i + 1}`, t), score: 1 - i / 10, reason: "近期热门课程" })) };
}

// The default answers: a walk-in sees "书法入门"; a signed-in learner's own
// recommendations and transcript name them (so a test can tell whose screen it is).
function defaults() {
  return {
    recommend: (req) => recommendations(req.learner ? [`${req.learner} 的推荐课`] : ["书法入门", "太极拳"]),
    similarCourses: () => ({ recommendations: [] }),
    listCourses: () => ({ courses: [] }),
    getCourse: (req) => ({ id: req.id, title: `课程 ${req.id}`, category: "书法", capacity: 20, seatsTaken: 3, credits: 1 }),
    batchGetCourses: () => ({ courses: [] }),
    listProgrammes: () => ({ programmes: [] }),
    redeemKioskPass: () => ({ token: kioskSession("u000042"), learner: "u000042", expireTime: inAnHour() }),
    redeemLearnerCard: () => ({ token: kioskSession("u000042"), learner: "u000042", expireTime: inAnHour() }),
    getTranscript: (req) => ({ learner: req.learner, courses: 3, hours: 12, credits: 7.5 }),
    listStatements: () => ({ statements: [] }),
    recordStatement: () => ({ id: "s1" }),
    createKioskPass: () => ({ code: "12345678", expireTime: inAnHour() }),
    // A server stream: an iterable of messages (a generator may throw midway).
    exportLearner: function* () { yield { json: new TextEncoder().encode("{}") }; },
    echo: (req) => ({ payload: req.payload }),
  };
}

// startFakeStack(gatewayOptions) -> {url (the gateway), answers (method local
// name -> (req) => response, may throw ConnectError; replace freely), calls
// ({method, req} in the order the services got them), close()}
export async function startFakeStack(gatewayOptions = {}) {
  const answers = defaults();
  const calls = [];
  const impl = (names) => Object.fromEntries(names.map((n) => [n, async (req) => {
    calls.push({ method: n, req });
    return answers[n](req);
  }]));
  const stream = (n) => async function* (req) {
    calls.push({ method: n, req });
    yield* answers[n](req);
  };
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(CourseCatalogService, impl(["getCourse", "batchGetCourses", "listCourses", "listProgrammes", "echo"]));
      router.service(RecommendationService, impl(["recommend", "similarCourses", "echo"]));
      router.service(LearningRecordService, { ...impl(["redeemKioskPass", "redeemLearnerCard", "getTranscript",
        "listStatements", "recordStatement", "createKioskPass", "echo"]), exportLearner: stream("exportLearner") });
    },
  });
  const services = http2.createServer(handler);
  const sessions = new Set();
  services.on("session", (session) => { sessions.add(session); session.once("close", () => sessions.delete(session)); });
  await new Promise((r) => services.listen(0, "127.0.0.1", r));
  const backend = `127.0.0.1:${services.address().port}`;
  const gw = createGateway({
    backends: { records: backend, catalog: backend, recommend: backend }, tls: null,
    kioskTokens: new Map([[VENUE, jwtOf({ role: "kiosk", sub: `kiosk-${VENUE}`, venue: VENUE })]]),
    kioskClients: parseKioskClients(`${VENUE}=127.0.0.1`), kioskHosts: new Set(["127.0.0.1"]),
    upstreamTimeoutMs: 5000, fontDir: "", ...gatewayOptions,
  });
  await new Promise((r) => gw.listener.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${gw.listener.address().port}`;
  return {
    url, answers, calls,
    close: async () => {
      await gw.close();
      // The gateway's transports keep their HTTP/2 sessions for a minute: end them.
      for (const session of sessions) session.destroy();
      await new Promise((r) => services.close(r));
    },
  };
}
