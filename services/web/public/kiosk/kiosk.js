// The kiosk: a touch screen at a community venue (docs/web.md, "Kiosk").
//
// /kiosk/?venue=<venue id>[&idle=<seconds>]
// Walk-in visitors see the venue's recommendations without signing in (the
// gateway calls with this venue's kiosk token). A learner signs in with the
// 8-digit pass code from the app, or with their learner card: the 12-digit
// card number, then the card's PIN (RedeemLearnerCard). Either way the kiosk
// then holds a 5-minute session token in memory only (never in storage) and
// forgets it on sign-out, on the idle timeout and on "返回首页".

import { ApiError, call, failureText } from "/shared/api.js";
import { AUDIENCES, LEVELS, MODES, VERBS, beijingDay, courseStatement, day, h, seats, when, where } from "/shared/format.js";
import { watchIdle } from "/shared/idle.js";
import { planNodes } from "/shared/path.js";

const params = new URLSearchParams(location.search);
const VENUE = params.get("venue") || "";
const IDLE_S = Math.min(600, Math.max(5, Number(params.get("idle")) || 60));
const VERB = "http://adlnet.gov/expapi/verbs/";

const state = {
  venueName: "", session: null,  // {token, learner, expire}
  age: "", category: "", categories: [], retry: null,
};

const screen = document.getElementById("screen");
const who = document.getElementById("who");

// Screen generation: every navigation (a screen run, sign-out, the card
// keypads) starts a new one. A reply that arrives after the learner has moved
// on belongs to an older generation and is dropped (api() throws Stale): a
// slow RedeemKioskPass answered after "返回首页" must not sign the kiosk in,
// and a slow transcript must not replace the walk-in screen of the next visitor.
// A late error is dropped the same way: the previous visitor's expired session
// (UNAUTHENTICATED) must not sign out the next one or cover their screen.
let generation = 0;
class Stale extends Error {}
function navigate() { generation += 1; }
async function api(service, method, req, options) {
  const g = generation;
  let res;
  try {
    res = await call(service, method, req, options);
  } catch (err) {
    if (g !== generation) throw new Stale(`${method} failed after the screen changed`);
    throw err;
  }
  if (g !== generation) throw new Stale(`${method} answered after the screen changed`);
  return res;
}

function opts() {
  return state.session ? { kiosk: VENUE, token: state.session.token } : { kiosk: VENUE };
}

// Shows a screen: clears everything, puts the nodes in, moves focus to the top.
function show(...nodes) {
  screen.replaceChildren(...nodes.flat(3).filter((n) => n !== null && n !== undefined && n !== false));
  screen.scrollTop = 0;
  screen.focus({ preventScroll: true });
  who.textContent = state.session ? `${state.session.learner} 您好` : "";
}

// Runs an async screen; a failure shows a plain message and a retry button.
async function run(load) {
  navigate();
  state.retry = load;
  show(h("p", { class: "loading" }, "正在加载……"));
  try {
    await load();
  } catch (err) {
    if (err instanceof Stale) return;  // another screen owns the display now
    console.warn("kiosk:", err);  // the service's own words: for the operator, not the screen
    const signedIn = state.session !== null;
    const text = failureText(err, { signedIn });
    // The session expired or was refused: it is dropped, and the way on is to
    // sign in again (a retry would run the signed-in screen with no session).
    const expired = signedIn && err instanceof ApiError &&
      (err.code === "unauthenticated" || err.code === "permission_denied");
    if (expired) state.session = null;
    show(h("h1", {}, "抱歉"),
         h("p", { class: "notice", role: "alert" }, text),
         h("div", { class: "row" }, expired
           ? h("button", { type: "button", class: "big primary", id: "sign-in-again", onclick: () => run(signInScreen) }, "重新登录")
           : h("button", { type: "button", class: "big primary", id: "retry", onclick: () => run(load) }, "重试")));
  }
}

function card(rec) {
  const c = rec.course || {};
  const dist = rec.distanceKm > 0 ? `，距此 ${rec.distanceKm.toFixed(1)} 公里` : "";
  return h("button", { type: "button", class: "card", "data-course": c.courseId, onclick: () => run(() => detail(c.courseId)) },
    h("span", { class: "title" }, c.title),
    h("span", { class: "line" }, `地点：${where(c)}${dist}`),
    h("span", { class: "line" }, `下次上课：${when(c.nextSessionStart)}`),
    h("span", { class: "line" }, seats(c.seatsLeft ?? 0)),
    rec.reason ? h("span", { class: "reason" }, `推荐理由：${rec.reason}`) : null);
}

async function home() {
  const filter = {};
  if (state.age) filter.audiences = [state.age];
  if (state.category) filter.categories = [state.category];
  const req = {
    learner: state.session ? state.session.learner : "", k: 12, filter,
    context: { channel: "CHANNEL_KIOSK", kioskVenueId: VENUE, ageGroup: state.age || undefined },
  };
  const [{ recs, fromCatalog }, today] = await Promise.all([
    recommendOrList(req),
    state.session ? todayHere() : [],
  ]);
  if (!state.category) {
    state.categories = [...new Set(recs.map((r) => r.course && r.course.category).filter(Boolean))].slice(0, 8);
  }
  const ageRow = h("div", { class: "row", role: "group", "aria-label": "年龄段" },
    h("span", { class: "label" }, "年龄段"),
    AUDIENCES.map(([v, zh]) => h("button", {
      type: "button", "aria-pressed": String(state.age === v), "data-age": v || "ALL",
      onclick: () => { state.age = v; state.category = ""; run(home); },
    }, zh)));
  const cats = state.category && !state.categories.includes(state.category)
    ? [state.category, ...state.categories] : state.categories;
  const catRow = h("div", { class: "row", role: "group", "aria-label": "课程类别" },
    h("span", { class: "label" }, "类别"),
    h("button", { type: "button", "aria-pressed": String(!state.category), onclick: () => { state.category = ""; run(home); } }, "全部"),
    cats.map((cat) => h("button", {
      type: "button", "aria-pressed": String(state.category === cat), "data-category": cat,
      onclick: () => { state.category = cat; run(home); },
    }, cat)));
  const signIn = state.session
    ? [h("button", { type: "button", class: "big primary", id: "my-learning", onclick: () => run(myLearning) }, "我的学习和学分"),
       h("button", { type: "button", class: "big primary", id: "my-path", onclick: () => run(pathGoals) }, "学习路径"),
       h("button", { type: "button", class: "big", id: "sign-out", onclick: () => signOut() }, "退出登录")]
    : h("button", { type: "button", class: "big primary", id: "sign-in", onclick: () => run(signInScreen) }, "登录，看为你推荐");
  show(h("h1", {}, state.session ? "为你推荐" : "这里的课程"),
       h("div", { class: "row" }, signIn),
       today.length ? [h("h2", {}, "今天在这里上课（可签到）"),
                       h("div", { class: "cards", id: "today" }, today.map(todayCard))] : null,
       state.session ? h("h2", {}, "为你推荐的课程") : null,
       ageRow, catRow,
       fromCatalog ? h("p", { class: "notice", id: "from-catalog" }, "推荐功能暂时不能使用，下面是本场馆正在开设的课程。") : null,
       recs.length ? h("div", { class: "cards", id: "cards" }, recs.map(card))
                   : h("p", { class: "notice", id: "empty" }, "暂时没有符合条件的课程，请换一个类别或年龄段。"));
  // The home screen is usable now: measured by tests/browser/bench.mjs.
  if (!performance.getEntriesByName("kiosk-usable").length) performance.mark("kiosk-usable");
}

// How long the home screen waits for the recommender before it shows this
// venue's courses from the catalog instead (it answers in milliseconds; a
// senior should not look at "正在加载……" for the whole 10 s call deadline).
const RECOMMEND_TIMEOUT_MS = 4000;

// The home screen's courses: the recommender's, or, when it is down or too
// slow (UNAVAILABLE, DEADLINE_EXCEEDED, no answer), this venue's open courses
// from the catalog, in the filters' age group and category, so that the
// screen still serves walk-ins: {recs (Recommendation-shaped), fromCatalog}.
async function recommendOrList(req) {
  try {
    const res = await api("RecommendationService", "Recommend", req, { ...opts(), timeoutMs: RECOMMEND_TIMEOUT_MS });
    return { recs: res.recommendations || [], fromCatalog: false };
  } catch (err) {
    if (!(err instanceof ApiError) || !err.network) throw err;  // Stale included
    console.warn("kiosk: recommendations unavailable, listing the venue's courses:", err);
  }
  const list = await api("CourseCatalogService", "ListCourses", {
    venueId: VENUE, pageSize: 12, state: "OPEN", category: state.category || undefined, audience: state.age || undefined,
  }, opts());
  const now = Date.now();
  const recs = (list.courses || []).map((c) => ({
    course: {
      courseId: c.id, title: c.title, category: c.category, mode: c.mode, venueName: (c.venue || {}).name,
      nextSessionStart: (c.sessions || []).map((x) => x.startTime).find((t) => Date.parse(t) > now),
      seatsLeft: c.capacity > 0 ? c.capacity - (c.seatsTaken || 0) : -1,
    },
  }));
  return { recs, fromCatalog: true };
}

// Courses of this venue with a session today (Beijing time): what a
// signed-in learner checks in for.
async function todayHere() {
  const list = await api("CourseCatalogService", "ListCourses", { venueId: VENUE, pageSize: 200 }, opts());
  const day = beijingDay();
  const out = [];
  for (const c of list.courses || []) {
    const s = (c.sessions || []).find((x) => beijingDay(x.startTime) === day && Date.parse(x.endTime) >= Date.now());
    if (s) out.push([c, s]);
  }
  return out.sort((a, b) => Date.parse(a[1].startTime) - Date.parse(b[1].startTime)).slice(0, 6);
}

function todayCard([c, s]) {
  return h("button", { type: "button", class: "card", "data-course": c.id, onclick: () => run(() => detail(c.id)) },
    h("span", { class: "title" }, c.title),
    h("span", { class: "line" }, `今天 ${when(s.startTime)}${s.room ? "，" + s.room : ""}`));
}

async function detail(id) {
  const course = await api("CourseCatalogService", "GetCourse", { id }, opts());
  const [prereq, similar] = await Promise.all([
    course.prerequisiteIds && course.prerequisiteIds.length
      ? api("CourseCatalogService", "BatchGetCourses", { ids: course.prerequisiteIds }, opts()) : { courses: [] },
    api("RecommendationService", "SimilarCourses", { courseId: id, k: 3 }, opts())
      .catch((err) => { if (err instanceof Stale) throw err; return { recommendations: [] }; }),
  ]);
  const now = Date.now();
  const upcoming = (course.sessions || []).filter((s) => Date.parse(s.endTime) >= now).slice(0, 6);
  const today = upcoming.find((s) => beijingDay(s.startTime) === beijingDay());
  const v = course.venue || {};
  const left = course.capacity > 0 ? course.capacity - (course.seatsTaken || 0) : -1;
  const actions = [];
  if (state.session) {
    actions.push(h("button", { type: "button", class: "big primary", id: "enrol",
      onclick: () => run(() => record(course, "registered", "报名")) }, "报名这门课"));
    if (today) {
      actions.push(h("button", { type: "button", class: "big primary", id: "check-in",
        onclick: () => run(() => record(course, "attended", "签到")) }, "今日签到"));
    }
  } else {
    actions.push(h("button", { type: "button", class: "big", id: "sign-in", onclick: () => run(signInScreen) }, "登录后报名"));
  }
  show(h("h1", { id: "course-title" }, course.title),
       h("dl", { class: "facts" },
         h("dt", {}, "类别"), h("dd", {}, `${course.category || ""} · ${LEVELS[course.level] || ""} · ${MODES[course.mode] || ""}`),
         h("dt", {}, "地点"), h("dd", { id: "venue-address" }, course.mode === "ONLINE" ? "线上课程" : `${v.name || ""}（${v.address || "地址待定"}）`),
         h("dt", {}, "名额"), h("dd", {}, seats(left)),
         h("dt", {}, "学分"), h("dd", {}, `${course.credits || 0} 学分，${course.hours || 0} 学时`)),
       h("div", { class: "row" }, actions),
       h("h2", {}, "上课时间"),
       upcoming.length ? h("ul", { class: "plain", id: "schedule" },
         upcoming.map((s) => h("li", {}, `${when(s.startTime)}${s.room ? "，" + s.room : ""}`)))
         : h("p", {}, "暂无排期"),
       h("h2", {}, "先修课程"),
       prereq.courses.length ? h("ul", { class: "plain", id: "prerequisites" }, prereq.courses.map((p) => h("li", {}, p.title)))
         : h("p", { id: "prerequisites" }, "无，零基础可以报名"),
       h("h2", {}, "相似课程"),
       h("div", { class: "cards", id: "similar" }, (similar.recommendations || []).map(card)),
       course.description ? [h("h2", {}, "课程介绍"), h("p", {}, course.description)] : null);
}

// The signed-in learner's credits and recent learning. Needs the role table
// to let a kiosk session read its own learner's transcript and statements
// (docs/web.md, "Kiosk"); where it does not, the screen says so plainly.
async function myLearning() {
  const learner = state.session.learner;
  let t, list;
  try {
    [t, list] = await Promise.all([
      api("LearningRecordService", "GetTranscript", { learner }, opts()),
      api("LearningRecordService", "ListStatements", { learner, pageSize: 5 }, opts()),
    ]);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "permission_denied") throw err;
    show(h("h1", {}, "我的学习和学分"),
         h("p", { class: "notice", id: "not-here" }, "这台终端暂时不能显示您的学习记录和学分，请在手机上的“东城学习”应用中查看。"),
         h("div", { class: "row" }, h("button", { type: "button", class: "big primary", onclick: () => run(home) }, "返回为你推荐")));
    return;
  }
  const title = (s) => {
    try {
      const j = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(s.json), (ch) => ch.charCodeAt(0))));
      return j.object.definition.name["zh-CN"] || s.activity;
    } catch { return s.activity; }
  };
  show(h("h1", {}, "我的学习和学分"),
       h("dl", { class: "facts", id: "credits" },
         h("dt", {}, "已完成课程"), h("dd", {}, `${t.courses || 0} 门`),
         h("dt", {}, "学时"), h("dd", {}, `${t.hours || 0} 学时`),
         h("dt", {}, "学分"), h("dd", { id: "credit-total" }, `${t.credits || 0} 学分`)),
       h("h2", {}, "最近的学习"),
       (list.statements || []).length
         ? h("ul", { class: "plain", id: "recent" }, list.statements.map((s) =>
             h("li", {}, `${day(s.timestamp || s.stored)} · ${VERBS[s.verb] || "学习"} · ${title(s)}`)))
         : h("p", {}, "还没有学习记录。"),
       h("div", { class: "row" }, h("button", { type: "button", class: "big primary", onclick: () => run(home) }, "返回为你推荐")));
}

// 学习路径 (signed in only), one task per screen: first the goal (a
// programme, ListProgrammes), then the plan toward it (PlanPath for the
// session's learner, with the session token).
async function pathGoals() {
  if (!state.session) return home();
  const list = await api("CourseCatalogService", "ListProgrammes", {}, opts());
  const programmes = list.programmes || [];
  show(h("h1", {}, "学习路径：选一个目标"),
       h("p", {}, "点一个证书或结业目标，我们按现在开设的课程为您排好先学什么、后学什么。"),
       programmes.length
         ? h("div", { class: "programmes", id: "programmes" }, programmes.map((p) =>
             h("button", { type: "button", class: "card", "data-programme": p.id, onclick: () => run(() => pathPlan(p)) },
               h("span", { class: "title" }, p.name),
               p.description ? h("span", { class: "line" }, p.description) : null)))
         : h("p", { class: "notice", id: "no-programmes" }, "目前还没有可选的学习目标。"),
       h("div", { class: "row" }, h("button", { type: "button", class: "big", onclick: () => run(home) }, "返回为你推荐")));
}

async function pathPlan(programme) {
  if (!state.session) return home();
  const plan = await api("RecommendationService", "PlanPath",
                          { learner: state.session.learner, programmeId: programme.id }, opts());
  show(h("h1", { id: "goal-name" }, plan.goalName || programme.name),
       programme.deadline ? h("p", {}, `截止日期：${day(programme.deadline)}`) : null,
       planNodes(plan, (id) => run(() => detail(id))),
       h("div", { class: "row" },
         h("button", { type: "button", class: "big primary", id: "other-goal", onclick: () => run(pathGoals) }, "换一个目标"),
         h("button", { type: "button", class: "big", onclick: () => run(home) }, "返回为你推荐")));
}

async function record(course, verb, zh) {
  const st = courseStatement(state.session.learner, VERB + verb, zh === "报名" ? "报名" : "参加", course, "kiosk", VENUE);
  await api("LearningRecordService", "RecordStatement", { statementJson: JSON.stringify(st) }, opts());
  show(h("p", { class: "success", role: "status", id: "done" }, `${zh}成功！`),
       h("p", {}, `课程：${course.title}`),
       h("p", {}, verb === "registered" ? `下次上课：${when((course.sessions || []).map((s) => s.startTime).find((t) => Date.parse(t) > Date.now()))}` : "祝您学习愉快。"),
       h("div", { class: "row" },
         h("button", { type: "button", class: "big primary", id: "more", onclick: () => run(home) }, "看看为你推荐的其他课程")));
}

async function signInScreen() {
  let code = "";
  const display = h("output", { class: "code", id: "code", "aria-label": "已输入的登录码" }, "");
  const message = h("p", { id: "sign-in-message", role: "alert" });
  const press = (d) => { if (code.length < 8) { code += d; display.textContent = code; } };
  const submit = async () => {
    if (!/^\d{8}$/.test(code)) { message.textContent = "请输入 8 位数字登录码。"; return; }
    try {
      const s = await api("LearningRecordService", "RedeemKioskPass", { code }, { kiosk: VENUE });
      state.session = { token: s.token, learner: s.learner, expire: Date.parse(s.expireTime) };
      state.category = "";
      run(home);
    } catch (err) {
      if (err instanceof Stale) return;
      code = ""; display.textContent = "";
      const failed = err instanceof ApiError ? err.code : "network";
      message.textContent = {
        not_found: "登录码不正确或已过期，请在手机上重新获取。",
        invalid_argument: "请输入 8 位数字登录码。",
      }[failed] || (failed === "resource_exhausted" && /^code:/.test(err.message)
        ? "这台终端输错登录码的次数太多，请过一会儿再试。" : failureText(err));
    }
  };
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d) =>
    h("button", { type: "button", "data-key": d, onclick: () => press(d) }, d));
  show(h("h1", {}, "登录"),
       h("p", {}, "请打开手机上的“东城学习”应用，点“到终端登录”，输入显示的 8 位数字。"),
       display, message,
       h("div", { class: "keypad", role: "group", "aria-label": "数字键盘" }, keys,
         h("button", { type: "button", "data-key": "del", onclick: () => { code = code.slice(0, -1); display.textContent = code; } }, "删除"),
         h("button", { type: "button", "data-key": "0", onclick: () => press("0") }, "0"),
         h("button", { type: "button", class: "primary", id: "submit", onclick: submit }, "确定")),
       h("div", { class: "row" },
         h("button", { type: "button", class: "big", id: "use-card", onclick: () => cardNumberScreen("") }, "没有手机？用学习卡登录")));
}

// A keypad of digits with 删除 and a primary action button.
function keypad(press, del, action) {
  return h("div", { class: "keypad", role: "group", "aria-label": "数字键盘" },
    ["1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d) =>
      h("button", { type: "button", "data-key": d, onclick: () => press(d) }, d)),
    h("button", { type: "button", "data-key": "del", onclick: del }, "删除"),
    h("button", { type: "button", "data-key": "0", onclick: () => press("0") }, "0"),
    action);
}

// Card sign-in, step 1: the 12 digits printed on the learner card, shown in
// groups of four as on the card.
function cardNumberScreen(initial, notice = "") {
  navigate();
  let number = initial;
  const display = h("output", { class: "code card-number", id: "card-number", "aria-label": "已输入的卡号" }, "");
  const message = h("p", { id: "sign-in-message", role: "alert" }, notice);
  const render = () => { display.textContent = number.replace(/(\d{4})(?=\d)/g, "$1 "); };
  render();
  const next = () => {
    if (!/^\d{12}$/.test(number)) { message.textContent = "请输入学习卡正面的 12 位卡号。"; return; }
    pinScreen(number);
  };
  show(h("h1", {}, "用学习卡登录"),
       h("p", {}, "第一步：请输入学习卡正面的 12 位卡号。"),
       display, message,
       keypad((d) => { if (number.length < 12) { number += d; render(); } },
              () => { number = number.slice(0, -1); render(); },
              h("button", { type: "button", class: "primary", id: "next", onclick: next }, "下一步")),
       h("div", { class: "row" },
         h("button", { type: "button", class: "big", id: "use-code", onclick: () => run(signInScreen) }, "用手机登录码登录")));
}

// Card sign-in, step 2: the card's PIN (4 to 6 digits, set at the service
// desk when the card was issued), shown as dots.
function pinScreen(number) {
  navigate();
  let pin = "";
  const display = h("output", { class: "code", id: "pin", "aria-label": "已输入的密码位数" }, "");
  const message = h("p", { id: "sign-in-message", role: "alert" });
  const render = () => {
    display.textContent = "●".repeat(pin.length);
    display.setAttribute("aria-label", `已输入 ${pin.length} 位密码`);
  };
  render();
  const submit = async () => {
    if (!/^\d{4,6}$/.test(pin)) { message.textContent = "请输入 4 到 6 位数字密码。"; return; }
    const tried = pin;
    pin = ""; render();
    try {
      const s = await api("LearningRecordService", "RedeemLearnerCard", { cardNumber: number, pin: tried }, { kiosk: VENUE });
      state.session = { token: s.token, learner: s.learner, expire: Date.parse(s.expireTime) };
      state.category = "";
      run(home);
    } catch (err) {
      if (err instanceof Stale) return;
      const code = err instanceof ApiError ? err.code : "network";
      if (code === "invalid_argument" && /card_number/.test(err.message)) {
        cardNumberScreen("", "卡号不正确，请核对学习卡正面的 12 位数字后重新输入。");
        return;
      }
      // RESOURCE_EXHAUSTED is the card's lock or this kiosk's budget of failed
      // card sign-ins only with the record service's "card_number: " prefix
      // (learner_cards.cc); any other is load shed by the gateway or a
      // service: failureText's "使用的人比较多", never "密码输错".
      message.textContent = {
        not_found: "卡号或密码不正确，请重新输入密码。如果忘记密码，请到服务台重新设置。",
        failed_precondition: "这张卡因密码输错太多次已停用。请带上学习卡和身份证到服务台重新设置密码。",
        invalid_argument: "请输入 4 到 6 位数字密码。",
      }[code] || (code === "resource_exhausted" && /^card_number: /.test(err.message)
        ? "密码输错的次数太多，暂时不能用这张卡登录。请过一会儿再试，或到服务台求助。" : failureText(err));
    }
  };
  show(h("h1", {}, "用学习卡登录"),
       h("p", {}, `第二步：卡号 ${number.replace(/(\d{4})(?=\d)/g, "$1 ")}，请输入这张卡的密码。`),
       display, message,
       keypad((d) => { if (pin.length < 6) { pin += d; render(); } },
              () => { pin = pin.slice(0, -1); render(); },
              h("button", { type: "button", class: "primary", id: "submit", onclick: submit }, "确定")),
       h("div", { class: "row" },
         h("button", { type: "button", class: "big", id: "re-card", onclick: () => cardNumberScreen("") }, "重新输入卡号")));
}

function signOut() {
  state.session = null;
  state.age = "";
  state.category = "";
  run(home);
}

// Idle timeout: no touch or key for IDLE_S seconds signs out and clears the
// screen; by the wall clock too (shared/idle.js), so a tablet waking from
// sleep does not show the previous learner's screen live. A system clock set
// forward while someone is active signs them out at their next touch: the
// safe side of a clock jump.
let idleTimer = 0;
let idleDue = Infinity;  // wall-clock ms when the idle sign-out is due; Infinity once it has run
const idleTooLong = () => Date.now() > idleDue;
function idleSignOut() {
  clearTimeout(idleTimer);
  idleDue = Infinity;
  signOut();
}
function restartIdle() {
  idleDue = Date.now() + IDLE_S * 1000;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(idleSignOut, IDLE_S * 1000);
}
watchIdle({ active: () => true, overdue: idleTooLong, signOut: idleSignOut, touched: restartIdle });

document.getElementById("home").addEventListener("click", () => signOut());

async function start() {
  if (!/^[a-z0-9_-]{1,64}$/.test(VENUE)) {
    show(h("h1", {}, "终端未配置"), h("p", { class: "notice", role: "alert" }, "地址中缺少场馆编号（?venue=…），请联系管理员。"));
    return;
  }
  restartIdle();
  run(home);
  // The venue's own name, from one of its courses, beside the home screen
  // (not before it: a slow catalog must not keep the first screen waiting).
  try {
    const list = await call("CourseCatalogService", "ListCourses", { venueId: VENUE, pageSize: 1 }, opts());
    const v = list.courses && list.courses[0] && list.courses[0].venue;
    state.venueName = v ? v.name : "";
    document.getElementById("venue-name").textContent = state.venueName;
  } catch { /* the home screen reports errors */ }
}
start();
