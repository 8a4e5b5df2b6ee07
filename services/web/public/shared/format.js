// Display helpers shared by the kiosk and the app (Chinese, Beijing time).

export const TZ = "Asia/Shanghai";

export const AUDIENCES = [
  ["", "全部"], ["CHILDREN", "少儿"], ["TEENS", "青少年"], ["ADULTS", "成年人"], ["SENIORS", "老年人"],
];
export const MODES = { OFFLINE: "线下", ONLINE: "线上", BLENDED: "线上线下" };
export const LEVELS = { BEGINNER: "入门", INTERMEDIATE: "进阶", ADVANCED: "提高" };
export const VERBS = {
  "http://adlnet.gov/expapi/verbs/registered": "报名", "http://adlnet.gov/expapi/verbs/attended": "签到上课",
  "http://adlnet.gov/expapi/verbs/completed": "完成", "http://adlnet.gov/expapi/verbs/passed": "通过",
  "http://adlnet.gov/expapi/verbs/failed": "未通过", "http://adlnet.gov/expapi/verbs/experienced": "学习",
  "http://id.tincanapi.com/verb/rated": "评分", "http://id.tincanapi.com/verb/bookmarked": "收藏",
};
export const COURSE_IRI = "https://lifelong.dongcheng.edu.cn/courses/";
export const EXT = "https://lifelong.dongcheng.edu.cn/xapi/ext/";

const dateTime = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, month: "long", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false,
});
const dateOnly = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, year: "numeric", month: "long", day: "numeric" });
const ymd = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });

export function when(ts) {
  return ts ? dateTime.format(new Date(ts)) : "暂无排期";
}
export function day(ts) {
  return ts ? dateOnly.format(new Date(ts)) : "";
}
// "2026-12-02" in Beijing time: sessions "today" are compared by this.
export function beijingDay(ts) {
  return ymd.format(ts ? new Date(ts) : new Date());
}
export function seats(n) {
  if (n === undefined || n === null) return "";
  return n < 0 ? "不限名额" : n === 0 ? "名额已满" : `剩余 ${n} 个名额`;
}
export function where(c) {
  if (c.mode === "ONLINE") return "线上课程";
  return c.venueName || (c.venue && c.venue.name) || "地点待定";
}

// Builds an element: h("div", {class: "card", onclick: f}, child, "text", ...).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// The xAPI statement a kiosk or the app records for a learner and a course.
export function courseStatement(learner, verbIri, verbZh, course, platform, venueId) {
  const ext = {};
  if (venueId) ext[EXT + "venue"] = venueId;
  if (course.mode) ext[EXT + "mode"] = course.mode.toLowerCase();
  const xuequ = course.venue ? course.venue.xuequ : course.xuequ;
  if (xuequ) ext[EXT + "xuequ"] = xuequ;
  return {
    actor: { objectType: "Agent", account: { homePage: "https://id.dongcheng.gov.cn", name: learner } },
    verb: { id: verbIri, display: { "zh-CN": verbZh } },
    object: {
      objectType: "Activity", id: COURSE_IRI + (course.id || course.courseId),
      definition: { type: "http://adlnet.gov/expapi/activities/course", name: { "zh-CN": course.title } },
    },
    context: { platform, extensions: ext },
    timestamp: new Date().toISOString(),
  };
}
