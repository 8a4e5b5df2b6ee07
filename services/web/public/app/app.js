// The mobile web app (docs/web.md, "App"). Hash routes:
//   #/signin  #/  #/course/<id>  #/path[/<programme id>]  #/history  #/transcript  #/pass  #/data
// The learner's bearer token is kept in sessionStorage (this tab only) and
// sent with every call; the gateway forwards it unchanged.

import { ApiError, call, failureText, stream } from "/shared/api.js";
import { LEVELS, MODES, VERBS, courseStatement, day, h, seats, when, where } from "/shared/format.js";
import { watchIdle } from "/shared/idle.js";
import { planNodes } from "/shared/path.js";

const XUEQU = ["东华门学区", "景山学区", "交道口学区", "安定门学区", "北新桥学区", "东四学区", "朝阳门学区", "和平里学区"];
const CATEGORIES = ["红色文化与思政", "书法", "戏曲", "传统文化", "美育", "健康与体育", "心理健康", "家庭教育",
                    "劳动教育", "科技与人工智能", "智能手机与数字素养", "职业技能", "法治教育", "外语与国际交流",
                    "民族团结", "老年教育"];
const screen = document.getElementById("screen");
const tabs = document.getElementById("tabs");
// The 为你推荐 filters: this learner's choices, reset when they sign out (the
// next person on a shared phone or computer starts unfiltered).
const NO_FILTERS = Object.freeze({ mode: "", xuequ: "", category: "", openNow: false });
const filters = { ...NO_FILTERS };

function claims(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;
  }
}
const session = {
  get token() { return sessionStorage.getItem("lifelong.token") || ""; },
  get learner() { const c = claims(this.token); return c ? c.sub : ""; },
  set(token) { sessionStorage.setItem("lifelong.token", token); },
  clear() { sessionStorage.removeItem("lifelong.token"); },
};
const opts = () => ({ token: session.token });
// A failed call in plain Chinese (shared/api.js failureText; the service's
// own message goes to the console). UNAUTHENTICATED signs out (run()).
const failed = (err) => (err instanceof ApiError && err.code === "permission_denied"
  ? "没有权限进行这项操作。" : failureText(err, { signedIn: true }));

// Screen generation (as in the kiosk): sign-in, sign-out and every screen
// change start a new one. A reply that arrives after the learner has moved on
// belongs to an older generation and is dropped (api() throws Stale), whether
// it is an answer or an error: a slow CreateKioskPass answered after 退出登录
// must not put the pass code on the sign-in screen, a slow transcript of
// learner A must not appear while learner B is signed in, and A's late
// UNAUTHENTICATED must not sign B out.
let generation = 0;
class Stale extends Error {}
function navigate() { generation += 1; return generation; }
async function settle(g, method, reply) {
  let res;
  try {
    res = await reply;
  } catch (err) {
    if (g !== generation) throw new Stale(`${method} failed after the screen changed`);
    throw err;
  }
  if (g !== generation) throw new Stale(`${method} answered after the screen changed`);
  return res;
}
const api = (service, method, req, options) => settle(generation, method, call(service, method, req, options));
const apiStream = (service, method, req, options) => settle(generation, method, stream(service, method, req, options));

function signOut() {
  stopIdle();
  session.clear();
  Object.assign(filters, NO_FILTERS);
  navigate();
  location.hash = "#/signin";
}

// Idle sign-out, as at the kiosk (shared/idle.js: by the wall clock too): a
// shared phone or a library PC left signed in must not hand the next person
// the previous learner's app (the token lives 12 hours). IDLE_S seconds
// without a touch, key, wheel or scroll sign out as 退出登录 does, and the
// sign-in screen says why. The due time is kept in sessionStorage beside the
// token, so a tab the browser discarded and reloads later (as phones do with
// background tabs) is not signed in afresh either. ?idle=<seconds> sets the
// limit (30..86400; the tests use 30).
const IDLE_S = Math.min(86400, Math.max(30, Number(new URLSearchParams(location.search).get("idle")) || 15 * 60));
const IDLE_KEY = "lifelong.idleDue";
let idleTimer = 0;
let idleDue = Infinity;  // wall-clock ms when the idle sign-out is due; Infinity while not armed
let idleNotice = false;  // signed out for idleness: the sign-in screen says so until someone signs in
const idleTooLong = () => Date.now() > idleDue;
function armIdle(due) {
  idleDue = due;
  sessionStorage.setItem(IDLE_KEY, String(due));
  clearTimeout(idleTimer);
  idleTimer = setTimeout(idleSignOut, Math.max(0, due - Date.now()));
}
function restartIdle() {
  const due = Date.now() + IDLE_S * 1000;
  if (due - idleDue >= 0 && due - idleDue < 1000) return;  // re-armed within the last second (a scroll fires every frame)
  armIdle(due);
}
function stopIdle() {
  clearTimeout(idleTimer);
  idleDue = Infinity;
  sessionStorage.removeItem(IDLE_KEY);
}
function idleSignOut() {
  if (!session.token) { stopIdle(); return; }  // signed out otherwise meanwhile (erasure)
  idleNotice = true;
  const here = location.hash === "#/signin";  // no hashchange to come: show the screen anew
  signOut();
  if (here) route();
}
watchIdle({ active: () => Boolean(session.token), overdue: idleTooLong, signOut: idleSignOut, touched: restartIdle,
            passive: ["touchstart", "wheel", "scroll"] });

function show(tab, ...nodes) {
  screen.replaceChildren(...nodes.flat(3).filter((n) => n !== null && n !== undefined && n !== false));
  screen.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  tabs.hidden = !session.token;
  for (const a of tabs.querySelectorAll("a")) {
    if (a.dataset.tab === tab) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.getElementById("who").textContent = session.learner;
}

async function run(tab, load) {
  const g = navigate();
  show(tab, h("p", {}, "正在加载……"));
  try {
    await load();
  } catch (err) {
    if (err instanceof Stale || g !== generation) return;  // another screen owns the display now
    console.warn("app:", err);
    if (err instanceof ApiError && err.code === "unauthenticated") {
      signOut();
      return;
    }
    show(tab, h("h1", {}, "抱歉"),
         h("p", { class: "notice", role: "alert" }, failed(err)),
         h("button", { type: "button", class: "primary", id: "retry", onclick: () => run(tab, load) }, "重试"));
  }
}

function signIn() {
  navigate();
  const input = h("textarea", { id: "token", "aria-describedby": "token-help", autocomplete: "off", spellcheck: "false" });
  const msg = h("p", { id: "signin-message", role: "alert" });
  show("", h("h1", {}, "登录"),
       idleNotice ? h("p", { class: "notice", id: "idle-notice", role: "status" },
                      "因长时间未操作，已安全退出，请重新登录。") : null,
       h("label", { for: "token" }, "登录凭证"),
       input,
       h("p", { id: "token-help" },
         "正式环境中由东城区统一身份认证登录后自动获得；开发环境请运行 ops/web.sh token u000042 并粘贴输出。"),
       msg,
       h("button", { type: "button", class: "primary", id: "signin", onclick: () => {
         const t = input.value.trim();
         const c = claims(t);
         // A learner token of the services (role learner), or an ID token of the district
         // identity provider (no role, an issuer; the services verify it, docs/web.md).
         const learnerToken = c && c.sub && (c.role === undefined ? typeof c.iss === "string" : c.role === "learner");
         if (!learnerToken) { msg.textContent = "登录凭证无效：需要学员的凭证。"; return; }
         if (c.exp && c.exp * 1000 < Date.now()) { msg.textContent = "登录凭证已过期，请重新获取。"; return; }
         session.set(t);
         idleNotice = false;
         restartIdle();
         navigate();
         location.hash = "#/";
       } }, "登录"));
}

function recCard(rec) {
  const c = rec.course || {};
  return h("button", { type: "button", class: "card", "data-course": c.courseId,
                       onclick: () => { location.hash = `#/course/${c.courseId}`; } },
    h("span", { class: "title" }, c.title),
    h("span", { class: "line" }, `${MODES[c.mode] || ""} · ${where(c)}${c.xuequ ? " · " + c.xuequ : ""}`),
    h("span", { class: "line" }, `下次上课：${when(c.nextSessionStart)} · ${seats(c.seatsLeft ?? 0)}`),
    rec.reason ? h("span", { class: "reason" }, rec.reason) : null);
}

function select(id, label, values, current, onchange) {
  return [h("label", { for: id }, label),
          h("select", { id, onchange: (e) => onchange(e.target.value) },
            values.map(([v, zh]) => h("option", { value: v, selected: v === current }, zh)))];
}

async function recommend() {
  const filter = {};
  if (filters.mode === "ONLINE") filter.modes = ["ONLINE", "BLENDED"];
  if (filters.mode === "OFFLINE") filter.modes = ["OFFLINE", "BLENDED"];
  if (filters.xuequ) filter.xuequ = [filters.xuequ];
  if (filters.category) filter.categories = [filters.category];
  if (filters.openNow) filter.openForEnrolmentNow = true;
  const res = await api("RecommendationService", "Recommend",
    { learner: session.learner, k: 20, filter, context: { channel: "CHANNEL_APP" } }, opts());
  const recs = res.recommendations || [];
  const rerun = () => run("recommend", recommend);
  show("recommend", h("h1", {}, "为你推荐"),
       h("div", { class: "filters" },
         h("div", {}, select("f-mode", "上课方式", [["", "全部"], ["ONLINE", "线上"], ["OFFLINE", "线下"]], filters.mode,
                              (v) => { filters.mode = v; rerun(); })),
         h("div", {}, select("f-xuequ", "学区", [["", "全部学区"], ...XUEQU.map((x) => [x, x])], filters.xuequ,
                              (v) => { filters.xuequ = v; rerun(); })),
         h("div", {}, select("f-category", "类别", [["", "全部类别"], ...CATEGORIES.map((x) => [x, x])], filters.category,
                              (v) => { filters.category = v; rerun(); })),
         h("div", {}, h("label", { class: "check", for: "f-open" },
           h("input", { type: "checkbox", id: "f-open", checked: filters.openNow,
                        onchange: (e) => { filters.openNow = e.target.checked; rerun(); } }), "正在报名"))),
       recs.length ? h("div", { class: "cards", id: "cards" }, recs.map(recCard))
                   : h("p", { class: "notice", id: "empty" }, "没有符合条件的课程，请放宽筛选条件。"));
}

async function course(id) {
  const c = await api("CourseCatalogService", "GetCourse", { id }, opts());
  const [prereq, similar] = await Promise.all([
    c.prerequisiteIds && c.prerequisiteIds.length
      ? api("CourseCatalogService", "BatchGetCourses", { ids: c.prerequisiteIds }, opts()) : { courses: [] },
    api("RecommendationService", "SimilarCourses", { courseId: id, k: 3 }, opts())
      .catch((err) => { if (err instanceof Stale) throw err; return { recommendations: [] }; }),
  ]);
  const v = c.venue || {};
  const upcoming = (c.sessions || []).filter((s) => Date.parse(s.endTime) >= Date.now()).slice(0, 8);
  const left = c.capacity > 0 ? c.capacity - (c.seatsTaken || 0) : -1;
  show("recommend", h("h1", { id: "course-title" }, c.title),
       h("dl", { class: "facts" },
         h("dt", {}, "类别"), h("dd", {}, `${c.category || ""} · ${LEVELS[c.level] || ""} · ${MODES[c.mode] || ""}`),
         h("dt", {}, "地点"), h("dd", { id: "venue-address" }, c.mode === "ONLINE" ? "线上课程" : `${v.name || ""}（${v.address || ""}）`),
         h("dt", {}, "名额"), h("dd", {}, seats(left)),
         h("dt", {}, "学分"), h("dd", {}, `${c.credits || 0} 学分 · ${c.hours || 0} 学时`)),
       h("div", { class: "row" },
         h("button", { type: "button", class: "primary", id: "enrol", onclick: () => run("recommend", async () => {
           const st = courseStatement(session.learner, "http://adlnet.gov/expapi/verbs/registered", "报名", c, "app", "");
           await api("LearningRecordService", "RecordStatement", { statementJson: JSON.stringify(st) }, opts());
           show("recommend", h("p", { class: "success", role: "status", id: "done" }, "报名成功！"), h("p", {}, c.title),
                h("button", { type: "button", class: "primary", id: "back", onclick: () => { location.hash = "#/"; } }, "返回推荐"));
         }) }, "报名")),
       h("h2", {}, "上课时间"),
       upcoming.length ? h("ul", { class: "plain", id: "schedule" },
         upcoming.map((s) => h("li", {}, `${when(s.startTime)}${s.room ? "，" + s.room : ""}`))) : h("p", {}, "暂无排期"),
       h("h2", {}, "先修课程"),
       prereq.courses.length ? h("ul", { class: "plain", id: "prerequisites" }, prereq.courses.map((p) => h("li", {}, p.title)))
         : h("p", { id: "prerequisites" }, "无"),
       h("h2", {}, "相似课程"),
       h("div", { class: "cards", id: "similar" }, (similar.recommendations || []).map(recCard)),
       c.description ? [h("h2", {}, "课程介绍"), h("p", {}, c.description)] : null);
}

// 学习路径: pick a programme (ListProgrammes), then the plan toward it
// (PlanPath for the signed-in learner): ordered courses, why each, progress.
async function learningPath(programmeId) {
  const list = await api("CourseCatalogService", "ListProgrammes", {}, opts());
  const programmes = list.programmes || [];
  const chosen = programmes.find((p) => p.id === programmeId);
  const picker = h("div", {},
    h("label", { for: "p-programme" }, "学习目标"),
    h("select", { id: "p-programme", onchange: (e) => { location.hash = e.target.value ? `#/path/${e.target.value}` : "#/path"; } },
      h("option", { value: "", selected: !chosen }, "请选择一个学习目标"),
      programmes.map((p) => h("option", { value: p.id, selected: p.id === programmeId }, p.name))));
  if (!chosen) {
    show("path", h("h1", {}, "学习路径"),
         h("p", {}, "选一个学习目标（证书或结业），我们按现在开设的课程为您排好学习顺序。"),
         picker,
         programmes.length
           ? h("ul", { class: "plain", id: "programmes" }, programmes.map((p) =>
               h("li", {}, h("button", { type: "button", class: "card", "data-programme": p.id,
                                          onclick: () => { location.hash = `#/path/${p.id}`; } },
                 h("span", { class: "title" }, p.name),
                 p.description ? h("span", { class: "line" }, p.description) : null,
                 p.issuer ? h("span", { class: "line" }, `颁发：${p.issuer}`) : null))))
           : h("p", { class: "notice", id: "no-programmes" }, "目前还没有可选的学习目标。"),
         programmeId ? h("p", { class: "notice", role: "alert", id: "unknown-programme" }, "没有找到这个学习目标，请重新选择。") : null);
    return;
  }
  const plan = await api("RecommendationService", "PlanPath", { learner: session.learner, programmeId }, opts());
  show("path", h("h1", {}, "学习路径"),
       picker,
       h("h2", { id: "goal-name" }, plan.goalName || chosen.name),
       chosen.description ? h("p", {}, chosen.description) : null,
       chosen.deadline ? h("p", {}, `截止日期：${day(chosen.deadline)}`) : null,
       planNodes(plan, (id) => { location.hash = `#/course/${id}`; }));
}

async function history() {
  const res = await api("LearningRecordService", "ListStatements", { learner: session.learner, pageSize: 50 }, opts());
  const items = (res.statements || []).map((s) => {
    let title = s.activity;
    try {
      const j = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(s.json), (ch) => ch.charCodeAt(0))));
      title = (j.object && j.object.definition && j.object.definition.name && j.object.definition.name["zh-CN"]) || title;
    } catch { /* keep the IRI */ }
    return h("li", { "data-statement": s.id }, `${day(s.timestamp || s.stored)} · ${VERBS[s.verb] || "学习"} · ${title}`);
  });
  show("history", h("h1", {}, "我的学习记录"),
       items.length ? h("ul", { class: "plain", id: "history" }, items) : h("p", { id: "history-empty" }, "还没有学习记录。"));
}

async function transcript() {
  const t = await api("LearningRecordService", "GetTranscript", { learner: session.learner }, opts());
  const entries = t.entries || [];
  show("transcript", h("h1", {}, "我的学分"),
       h("div", { class: "totals", id: "totals" },
         h("div", {}, h("strong", {}, String(t.courses || 0)), "门课程"),
         h("div", {}, h("strong", {}, String(t.hours || 0)), "学时"),
         h("div", {}, h("strong", { id: "credits" }, String(t.credits || 0)), "学分")),
       h("h2", {}, "已完成的课程"),
       entries.length ? h("ul", { class: "plain", id: "entries" }, entries.map((e) =>
         // Verified entries (an entitled issuer: teacher, institution, operator) earn credits;
         // self-reported ones stay visible but earn none (docs/records.md).
         h("li", { class: e.verified ? "verified" : "unverified" },
           e.verified ? `${day(e.achieved)} · ${e.title} · ${e.credits || 0} 学分 · 已认证`
                      : `${day(e.achieved)} · ${e.title} · 自报，未计学分（申报 ${e.claimedCredits || 0} 学分）`)))
         : h("p", {}, "还没有完成的课程。"));
}

async function pass() {
  const p = await api("LearningRecordService", "CreateKioskPass", {}, opts());
  show("pass", h("h1", {}, "到终端登录"),
       h("p", {}, "在社区学习终端上点“登录”，输入下面的 8 位数字（2 分钟内有效，只能用一次）："),
       h("p", { class: "code", id: "pass-code", "aria-label": `登录码 ${p.code.split("").join(" ")}` }, p.code),
       h("p", {}, `有效期至 ${when(p.expireTime)}`),
       h("button", { type: "button", id: "new-pass", onclick: () => run("pass", pass) }, "换一个登录码"));
}

function myData() {
  navigate();
  const msg = h("p", { id: "data-message", role: "status" });
  const dialog = h("dialog", { id: "erase-dialog", "aria-labelledby": "erase-title" },
    h("h2", { id: "erase-title" }, "确定删除我的全部学习记录？"),
    h("p", {}, "删除后无法恢复，学分记录也会一并删除。"),
    h("div", { class: "row" },
      h("button", { type: "button", class: "danger", id: "erase-confirm", onclick: async () => {
        dialog.close();
        const g = generation;
        const token = session.token;
        let r;
        try {
          // Two minutes: the erasure waits for the writes queued before it
          // (gateway.js ERASE_TIMEOUT_MS).
          r = await call("LearningRecordService", "EraseLearner", { learner: session.learner },
                         { ...opts(), timeoutMs: 120000 });
        } catch (err) {
          if (g !== generation) return;  // a late error: the screen that asked is gone
          console.warn("app:", err);
          msg.textContent = `删除没有完成：${failed(err)}`;
          return;
        }
        // Erased: the learner's token is dropped even when the answer comes late
        // (but not another learner's who signed in meanwhile); the
        // confirmation only on the screen that asked for it.
        if (session.token === token) session.clear();
        if (g !== generation) {
          if (!session.token) signOut();
          return;
        }
        show("", h("p", { class: "success", role: "status", id: "erased" }, `已删除 ${r.erasedStatements || 0} 条学习记录。`),
             h("button", { type: "button", class: "primary", onclick: () => { location.hash = "#/signin"; } }, "返回登录"));
      } }, "确定删除"),
      h("button", { type: "button", id: "erase-cancel", onclick: () => dialog.close() }, "取消")));
  show("data", h("h1", {}, "我的数据"),
       h("h2", {}, "导出"),
       h("p", {}, "下载我的全部学习记录（xAPI JSON）。"),
       h("button", { type: "button", class: "primary", id: "export", onclick: async () => {
         msg.textContent = "正在导出……";
         try {
           const all = await apiStream("LearningRecordService", "ExportLearner", { learner: session.learner }, opts());
           const statements = all.map((s) => JSON.parse(new TextDecoder().decode(
             Uint8Array.from(atob(s.json), (ch) => ch.charCodeAt(0)))));
           const blob = new Blob([JSON.stringify(statements, null, 2)], { type: "application/json" });
           const href = URL.createObjectURL(blob);
           const a = h("a", { href, download: `lifelong-${session.learner}.json` });
           document.body.append(a);
           a.click();
           a.remove();
           // The download has its copy; the page keeps none of the learner's records.
           setTimeout(() => URL.revokeObjectURL(href), 0);
           msg.textContent = `已导出 ${statements.length} 条记录。`;
         } catch (err) {
           if (err instanceof Stale) return;  // signed out (or moved on) meanwhile: no download
           console.warn("app:", err);
           msg.textContent = `导出没有完成：${failed(err)}`;
         }
       } }, "导出我的记录"),
       h("h2", {}, "删除"),
       h("p", {}, "申请删除我在东城区终身学习网络中的全部学习记录。"),
       h("button", { type: "button", class: "danger", id: "erase", onclick: () => dialog.showModal() }, "删除我的记录"),
       msg, dialog,
       h("h2", {}, "退出"),
       h("button", { type: "button", id: "sign-out", onclick: () => signOut() }, "退出登录"));
}

function route() {
  navigate();
  // Overdue and moved by the browser's back button (no touch on the page): sign out, open nothing.
  if (session.token && idleTooLong()) { idleSignOut(); return; }
  const hash = location.hash || "#/";
  if (!session.token && hash !== "#/signin") { location.hash = "#/signin"; return; }
  let m;
  if (hash === "#/signin") return signIn();
  if ((m = /^#\/course\/([a-z0-9_-]{1,64})$/.exec(hash))) return run("recommend", () => course(m[1]));
  if (hash === "#/path") return run("path", () => learningPath(""));
  if ((m = /^#\/path\/([a-z0-9_-]{1,64})$/.exec(hash))) return run("path", () => learningPath(m[1]));
  if (hash === "#/history") return run("history", history);
  if (hash === "#/transcript") return run("transcript", transcript);
  if (hash === "#/pass") return run("pass", pass);
  if (hash === "#/data") return myData();
  return run("recommend", recommend);
}
window.addEventListener("hashchange", route);
// A reload, or a discarded tab brought back: the idle deadline still holds
// (route() signs out when it has passed).
if (session.token) armIdle(Math.min(Number(sessionStorage.getItem(IDLE_KEY)) || Infinity, Date.now() + IDLE_S * 1000));
route();
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
