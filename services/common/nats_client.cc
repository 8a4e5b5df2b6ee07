#include "services/common/nats_client.h"

#include "absl/strings/str_cat.h"

namespace lifelong::nats {

std::string NatsErrorText(natsStatus s, jsErrCode err) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0') absl::StrAppend(&text, " (", detail, ")");
  if (err != 0) absl::StrAppend(&text, " [JetStream error ", static_cast<int>(err), "]");
  return text;
}

absl::Status NatsUnavailable(absl::string_view prefix, absl::string_view what, natsStatus s, jsErrCode err) {
  return absl::UnavailableError(absl::StrCat(prefix, ": ", what, ": ", NatsErrorText(s, err)));
}

std::string InboxPrefix(const std::string& user) { return absl::StrCat("_INBOX_", user); }

natsStatus NewLogConnectionOptions(const std::vector<std::string>& servers, const std::string& name,
                                   const std::string& user, const std::string& password, natsOptions** out) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return s;
  std::vector<const char*> urls;
  for (const std::string& u : servers) urls.push_back(u.c_str());
  s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, name.c_str());
  if (s == NATS_OK && !user.empty()) s = natsOptions_SetUserInfo(opts, user.c_str(), password.c_str());
  // Replies and JetStream deliveries come to inboxes of the user's own
  // prefix, the only inboxes its NATS permissions let it read: another
  // service's credentials cannot subscribe to this one's deliveries.
  if (s == NATS_OK && !user.empty()) s = natsOptions_SetCustomInboxPrefix(opts, InboxPrefix(user).c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 1000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    return s;
  }
  *out = opts;
  return NATS_OK;
}

natsStatus SubscribeOrderedFrom(jsCtx* js, const std::string& stream, const std::string& subject_prefix, uint64_t from,
                                natsSubscription** sub, jsErrCode* err) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = from;
  const std::string subjects = absl::StrCat(subject_prefix, ".>");
  return js_SubscribeSync(sub, js, subjects.c_str(), nullptr, &so, err);
}

}  // namespace lifelong::nats
