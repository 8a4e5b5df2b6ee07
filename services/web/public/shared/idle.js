// The idle sign-out of a shared device, for the kiosk (kiosk.js) and the app
// (app.js). The page's timer alone is not enough: while the device sleeps (a
// tablet's or phone's screen off) or the page is hidden or frozen, timers
// stand still or are throttled, and on waking the previous learner's screen
// would be back, live, until the timer caught up, and the next person's first
// touch would act in their name. So each page also keeps the sign-out's due
// time by the wall clock (Date.now(), which goes on while the device is
// suspended; performance.now() does not), and this module makes a touch or
// key that comes when it is overdue sign out and do nothing else (the click
// it ends in swallowed too), as does the page becoming visible again by then.
//
// watchIdle({ active, overdue, signOut, touched, passive }):
//   active()   whether a learner is signed in (nothing is watched otherwise)
//   overdue()  whether the sign-out is due by the wall clock
//   signOut()  signs out for idleness
//   touched()  activity: re-arms the page's timer
//   passive    further events that count as activity, never swallowed
//              (the app: touchstart, wheel, scroll)
export function watchIdle({ active, overdue, signOut, touched, passive = [] }) {
  let swallowClick = false;
  function onActivity(ev) {
    if (active() && overdue()) {
      if (ev.type === "pointerdown" || ev.type === "keydown") {
        ev.preventDefault();
        ev.stopImmediatePropagation();
        if (ev.type === "pointerdown") swallowClick = true;
      }
      signOut();
      return;
    }
    if (ev.type === "pointerdown") swallowClick = false;
    if (active()) touched();
  }
  // Capture on the document: before any handler of the page's elements
  // (window's capture listeners still see the event first: a test driver's
  // hit-target check among them).
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, onActivity, { capture: true });
  for (const ev of passive) document.addEventListener(ev, onActivity, { capture: true, passive: true });
  document.addEventListener("click", (ev) => {
    if (swallowClick) { ev.preventDefault(); ev.stopImmediatePropagation(); swallowClick = false; }
  }, { capture: true });
  for (const [target, ev] of [[document, "visibilitychange"], [window, "pageshow"], [window, "focus"]]) {
    target.addEventListener(ev, () => {
      if (document.visibilityState === "visible" && active() && overdue()) signOut();
    });
  }
}
