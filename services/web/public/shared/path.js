// The learning-path plan (RecommendationService.PlanPath, docs/recommend.md
// "Learning paths") as the kiosk and the app show it: Chinese text for the
// planner's step reasons and infeasibility lines, and the plan's nodes
// (progress, ordered steps). Each front end puts them in its own screen.

import { day, h, when, where } from "/shared/format.js";

// Credits as the district prints them: 1.5, 2, 0.5.
export function credits(n) {
  return String(Math.round((Number(n) || 0) * 10) / 10);
}

// The planner's `why` of a step ("target", "required", "prerequisite of
// <title>", "credits: <category>", "credits", "in progress") in Chinese.
export function whyText(why) {
  if (!why) return "";
  if (why === "target") return "这是您的目标课程";
  if (why === "required") return "这是必修课程";
  if (why === "credits") return "补足总学分";
  if (why === "in progress") return "您已报名，正在学习";
  let m;
  if ((m = /^prerequisite of (.+)$/.exec(why))) return `先学这门，才能学「${m[1]}」`;
  if ((m = /^credits: (.+)$/.exec(why))) return `补足「${m[1]}」类学分`;
  return why;
}

// One line of the planner's infeasibility reason in Chinese (the planner
// writes them in English around Chinese names; unknown phrases stay as they are).
const REASON_RULES = [
  [/ needs ([\d.]+) more credits in (.+?); /, " 还差 $1 学分（$2类）："],
  [/ needs ([\d.]+) more credits; /, " 还差 $1 学分："],
  [/ needs (.+?), which the catalog no longer offers/, " 需要先学「$1」，但目前不再开设"],
  [/ needs (.+?) first; /, " 需要先学「$1」；"],
  [/ requires (.+?); /, " 必须完成「$1」；"],
  [/ clashes with (.+)$/, " 与「$1」上课时间冲突"],
  [/no open course before the deadline/, "截止日期前没有可以报名的课程"],
  [/no open course fits/, "没有合适的可以报名的课程"],
  [/the catalog has no course in (.+)$/, "目前没有「$1」类课程"],
  [/no course in (.+?) can be planned \((.+)\)$/, "「$1」类课程暂时无法安排（$2）"],
  [/is not open/, "暂未开放报名"],
  [/is full/, "名额已满"],
  [/has closed enrolment/, "报名已截止"],
  [/is not in (\S+)/, "不在$1"],
];
export function reasonText(line) {
  let out = line;
  for (const [re, zh] of REASON_RULES) out = out.replace(re, zh);
  return out;
}

// The progress of a programme plan: credits earned / planned / required,
// per category, and the required courses.
export function progressNodes(progress) {
  const p = progress || {};
  const cats = p.byCategory || [];
  const done = (p.requiredDone || []).length, planned = (p.requiredPlanned || []).length;
  const missing = (p.requiredMissing || []).length;
  return [
    h("dl", { class: "facts", id: "progress" },
      h("dt", {}, "已获得"), h("dd", { id: "credits-earned" }, `${credits(p.creditsEarned)} 学分`),
      h("dt", {}, "计划中"), h("dd", { id: "credits-planned" }, `${credits(p.creditsPlanned)} 学分`),
      p.creditsRequired ? [h("dt", {}, "共需要"), h("dd", { id: "credits-required" }, `${credits(p.creditsRequired)} 学分`)] : null,
      done + planned + missing
        ? [h("dt", {}, "必修课程"), h("dd", { id: "required-courses" },
            `已完成 ${done} 门，已安排 ${planned} 门${missing ? `，未能安排 ${missing} 门` : ""}`)]
        : null),
    cats.length ? h("ul", { class: "plain", id: "by-category" }, cats.map((c) =>
      h("li", { "data-category": c.category },
        `${c.category}：已获得 ${credits(c.earned)}，计划 ${credits(c.planned)}，需要 ${credits(c.required)} 学分`)))
      : null,
  ];
}

// One planned course: when, where, how many sessions, why.
export function stepNode(step, index, onOpen) {
  const c = step.course || {};
  const sessions = step.sessions || [];
  // The reply lists a course's next sessions (at most 100) and counts the rest.
  const total = sessions.length + (Number(step.sessionsNotListed) || 0);
  const first = sessions[0];
  return h("li", { class: "step", "data-course": c.courseId },
    h("span", { class: "step-title" }, `第 ${index + 1} 步：${c.title || c.courseId}`),
    h("span", { class: "line" }, `时间：${day(step.start) || "待定"} 至 ${day(step.end) || "待定"}，共 ${total} 次课`),
    h("span", { class: "line" }, `地点：${where(c)}${c.xuequ && c.mode !== "ONLINE" ? `（${c.xuequ}）` : ""}`),
    first ? h("span", { class: "line" }, `第一次课：${when(first.startTime)}${first.room ? "，" + first.room : ""}`) : null,
    h("span", { class: "line" }, `学分：${credits(c.credits)} 学分${c.category ? ` · ${c.category}` : ""}`),
    h("span", { class: "line why" }, `为什么：${whyText(step.why)}`),
    onOpen ? h("button", { type: "button", class: "open-course", "data-course": c.courseId, onclick: () => onOpen(c.courseId) },
                "查看课程") : null);
}

// The whole plan under a heading: the verdict, the reason when it cannot be
// done, the progress (programmes only) and the ordered steps.
export function planNodes(plan, onOpen) {
  const steps = plan.steps || [];
  const reason = (plan.reason || "").split("\n").filter(Boolean);
  let verdict;
  if (plan.alreadyAchieved) verdict = h("p", { class: "success", id: "verdict", "data-feasible": "achieved" }, "恭喜！您已经达成这个目标。");
  else if (plan.feasible) verdict = h("p", { class: "success", id: "verdict", "data-feasible": "true" }, `可以完成：按下面的顺序学习 ${steps.length} 门课程。`);
  else verdict = h("p", { class: "notice", id: "verdict", "data-feasible": "false" }, "按现在开设的课程，暂时无法完成这个目标。");
  return [
    verdict,
    reason.length ? h("ul", { class: "plain notice-list", id: "path-reason", "data-reason": plan.reason },
                      reason.map((r) => h("li", {}, reasonText(r)))) : null,
    plan.progress ? [h("h2", {}, "学分进度"), progressNodes(plan.progress)] : null,
    steps.length ? [h("h2", {}, plan.feasible ? "学习顺序" : "目前能安排的课程"),
                    h("ol", { class: "plain steps", id: "steps" }, steps.map((s, i) => stepNode(s, i, onOpen)))]
      : null,
  ];
}
