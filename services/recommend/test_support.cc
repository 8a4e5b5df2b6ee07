#include "services/recommend/test_support.h"

#include <sys/stat.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "models/interaction_file.h"
#include "models/model_writer.h"
#include "models/trainer.h"
#include "services/common/grpc_status.h"
#include "services/domain/vocabulary.h"

namespace lifelong::recommend::testing {
namespace {

void SetTs(absl::Time t, google::protobuf::Timestamp* out) { out->set_seconds(absl::ToUnixSeconds(t)); }

struct VenueDef {
  const char* id;
  const char* name;
  const char* xuequ;
  const char* jiedao;
  double lat;
  double lng;
};

const VenueDef kVenues[] = {
    {"v_hpl", "和平里社区学校", "和平里学区", "和平里街道", 39.9580, 116.4170},
    {"v_dzm", "东直门市民学校", "东直门学区", "东直门街道", 39.9410, 116.4340},
    {"v_js", "景山社区学校", "景山学区", "景山街道", 39.9250, 116.3970},
};

struct CourseDef {
  const char* id;
  const char* title;
  const char* category;
  const char* venue;  // "" = online
  const char* description;
  v1::Course::Audience audience;
};

const CourseDef kCourses[] = {
    {"c_sf1", "书法入门", "书法", "v_hpl", "毛笔书法基本笔画，楷书入门", v1::Course::SENIORS},
    {"c_sf1b", "书法入门（第二期）", "书法", "v_dzm", "毛笔书法基本笔画，楷书入门", v1::Course::SENIORS},
    {"c_sf2", "书法进阶", "书法", "v_hpl", "楷书进阶，行书笔法与章法", v1::Course::SENIORS},
    {"c_sf3", "硬笔书法", "书法", "v_dzm", "钢笔字书写技巧，硬笔楷书", v1::Course::ADULTS},
    {"c_gh1", "国画基础", "绘画", "v_hpl", "中国画花鸟入门，笔墨技法", v1::Course::SENIORS},
    {"c_gh2", "山水画", "绘画", "v_dzm", "中国山水画写生与临摹", v1::Course::ADULTS},
    {"c_tj1", "太极拳入门", "健身", "v_js", "二十四式太极拳，强身健体", v1::Course::SENIORS},
    {"c_tj2", "八段锦", "健身", "v_js", "八段锦养生功法，舒筋活络", v1::Course::SENIORS},
    {"c_py1", "Python 编程入门", "信息技术", "", "Python 基础语法与数据处理", v1::Course::ADULTS},
    {"c_py2", "智能手机使用", "信息技术", "", "智能手机拍照、支付与出行", v1::Course::SENIORS},
    {"c_ey1", "英语口语", "外语", "v_dzm", "日常英语会话练习", v1::Course::ADULTS},
    {"c_closed", "书法鉴赏", "书法", "v_hpl", "历代书法名作鉴赏", v1::Course::SENIORS},
    {"c_draft", "书法史", "书法", "v_hpl", "中国书法发展史", v1::Course::SENIORS},
    {"c_full", "篆刻入门", "书法", "v_hpl", "篆刻刀法与印章设计", v1::Course::SENIORS},
    {"c_later", "隶书入门", "书法", "v_js", "隶书笔法与曹全碑临写", v1::Course::SENIORS},
    {"c_new", "书法临帖", "书法", "v_hpl", "毛笔书法楷书临帖，行书笔法", v1::Course::SENIORS},
};

}  // namespace

void FakeRecords::Add(const std::string& learner, absl::string_view verb, const std::string& course_id, absl::Time time,
                      bool self_reported) {
  v1::Statement s;
  s.set_learner(learner);
  s.set_verb(std::string(verb));
  s.set_verified(!self_reported && (verb == vocab::kCompleted || verb == vocab::kPassed));
  s.set_activity(vocab::CourseIri(course_id));
  SetTs(time, s.mutable_timestamp());
  SetTs(time, s.mutable_stored());
  {
    absl::MutexLock lock(&mu_);
    auto& list = by_learner_[learner];
    list.insert(list.begin(), std::move(s));  // newest first
  }
  feed_.Publish({learner});
}

grpc::Status FakeRecords::WatchLearnerChanges(
    grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::LearnerChanges, v1::LearnerChangesAck>* stream) {
  return ToGrpcStatus(records::ServeLearnerChanges(&feed_, ctx, stream));
}

void FakeRecords::set_delay(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  delay_ = d;
}

int64_t FakeRecords::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::Time FakeRecords::last_deadline() const {
  absl::MutexLock lock(&mu_);
  return last_deadline_;
}

grpc::Status FakeRecords::ListStatements(grpc::ServerContext* ctx, const v1::ListStatementsRequest* request,
                                         v1::ListStatementsResponse* response) {
  absl::Duration delay;
  {
    absl::MutexLock lock(&mu_);
    ++calls_;
    delay = delay_;
    last_deadline_ = absl::FromChrono(ctx->deadline());
  }
  if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  if (request->page_size() < 1 || request->page_size() > 1000) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size: must be in [1, 1000]");
  }
  absl::MutexLock lock(&mu_);
  auto it = by_learner_.find(request->learner());
  if (it == by_learner_.end()) return grpc::Status::OK;
  for (const v1::Statement& s : it->second) {
    if (response->statements_size() >= request->page_size()) {
      response->set_next_page_token("more");
      break;
    }
    *response->add_statements() = s;
  }
  return grpc::Status::OK;
}

void FakeCatalog::Put(const v1::Course& course) {
  absl::MutexLock lock(&mu_);
  courses_[course.id()] = course;
  ++generation_;
}

void FakeCatalog::Clear() {
  absl::MutexLock lock(&mu_);
  courses_.clear();
  ++generation_;
}

int64_t FakeCatalog::list_calls() const {
  absl::MutexLock lock(&mu_);
  return list_calls_;
}

grpc::Status FakeCatalog::ListCourses(grpc::ServerContext* ctx, const v1::ListCoursesRequest* request,
                                      v1::ListCoursesResponse* response) {
  absl::MutexLock lock(&mu_);
  ++list_calls_;
  int offset = 0;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &offset)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token: bad");
  }
  const int page = request->page_size() == 0 ? 50 : request->page_size();
  int i = 0;
  for (const auto& [id, c] : courses_) {
    if (c.state() == v1::Course::ARCHIVED && !request->show_archived()) continue;  // as the catalog service
    if (i++ < offset) continue;
    if (response->courses_size() == page) {
      response->set_next_page_token(absl::StrCat(offset + page));
      break;
    }
    *response->add_courses() = c;
  }
  response->set_catalog_generation(generation_);
  return grpc::Status::OK;
}

grpc::Status FakeCatalog::GetCatalogInfo(grpc::ServerContext* ctx, const v1::GetCatalogInfoRequest* request,
                                         v1::CatalogInfo* response) {
  absl::MutexLock lock(&mu_);
  response->set_generation(generation_);
  response->set_course_count(courses_.size());
  int64_t archived = 0;
  for (const auto& [id, c] : courses_) archived += c.state() == v1::Course::ARCHIVED ? 1 : 0;
  response->set_archived_count(archived);
  return grpc::Status::OK;
}

grpc::Status FakeCatalog::PutProgramme(grpc::ServerContext* ctx, const v1::PutProgrammeRequest* request,
                                       v1::Programme* response) {
  absl::MutexLock lock(&mu_);
  programmes_[request->programme().id()] = request->programme();
  ++generation_;
  *response = request->programme();
  return grpc::Status::OK;
}

grpc::Status FakeCatalog::ListProgrammes(grpc::ServerContext* ctx, const v1::ListProgrammesRequest* request,
                                         v1::ListProgrammesResponse* response) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, p] : programmes_) *response->add_programmes() = p;
  return grpc::Status::OK;
}

std::unique_ptr<RunningGrpcServer> StartFake(grpc::Service* service) {
  GrpcServerOptions o;
  o.address = "127.0.0.1:0";
  auto s = StartGrpcServer(o, {service});
  if (!s.ok()) std::abort();
  (*s)->SetServing(true);
  return *std::move(s);
}

std::vector<v1::Course> TestCatalog(absl::Time now) {
  std::vector<v1::Course> out;
  for (const CourseDef& d : kCourses) {
    v1::Course c;
    c.set_id(d.id);
    c.set_title(d.title);
    c.set_category(d.category);
    c.set_description(d.description);
    c.add_audiences(d.audience);
    c.mutable_provider()->set_name("东城区社区教育中心");
    c.mutable_provider()->set_kind(v1::Provider::COMMUNITY_SCHOOL);
    c.set_state(v1::Course::OPEN);
    c.set_level(v1::Course::BEGINNER);
    c.set_credits(1);
    if (std::string(d.venue).empty()) {
      c.set_mode(v1::Course::ONLINE);
    } else {
      c.set_mode(v1::Course::OFFLINE);
      for (const VenueDef& v : kVenues) {
        if (std::string(v.id) != d.venue) continue;
        v1::Venue* venue = c.mutable_venue();
        venue->set_id(v.id);
        venue->set_name(v.name);
        venue->set_xuequ(v.xuequ);
        venue->set_jiedao(v.jiedao);
        venue->mutable_location()->set_latitude(v.lat);
        venue->mutable_location()->set_longitude(v.lng);
      }
    }
    SetTs(now - absl::Hours(24), c.mutable_enrollment_open_time());
    SetTs(now + absl::Hours(24 * 7), c.mutable_enrollment_close_time());
    v1::Session* s = c.add_sessions();
    SetTs(now + absl::Hours(72), s->mutable_start_time());
    SetTs(now + absl::Hours(74), s->mutable_end_time());
    const std::string id = d.id;
    if (id == "c_closed") c.set_state(v1::Course::CLOSED);
    if (id == "c_draft") c.set_state(v1::Course::DRAFT);
    if (id == "c_full") {
      c.set_capacity(10);
      c.set_seats_taken(10);
    }
    if (id == "c_later") SetTs(now + absl::Hours(48), c.mutable_enrollment_open_time());
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<models::Interaction> TestInteractions(int seed) {
  std::vector<models::Interaction> out;
  int learner = 0;
  auto seq = [&](std::vector<const char*> courses, int learners) {
    for (int l = 0; l < learners; ++l, ++learner) {
      int64_t t = 1000;
      for (const char* c : courses) {
        out.push_back({absl::StrCat("gen", learner), c, t++, 1.0f});
      }
    }
  };
  seq({"c_sf1", "c_sf2", "c_sf3"}, 12 + seed);
  seq({"c_sf1", "c_sf2"}, 6);
  seq({"c_sf1", "c_sf3", "c_gh1"}, 4);
  seq({"c_gh1", "c_gh2"}, 10);
  seq({"c_tj1", "c_tj2"}, 25);
  seq({"c_tj1", "c_py2"}, 5);
  seq({"c_py1", "c_py2"}, 8 + seed);
  seq({"c_py2", "c_ey1"}, 4);
  seq({"c_ey1", "c_py1"}, 4);
  // Courses that exist in the catalog but must never be recommended.
  seq({"c_closed", "c_draft", "c_full", "c_later", "c_sf1b"}, 3);
  return out;
}

absl::StatusOr<int64_t> WriteTestModel(const std::string& model_root, int seed) {
  return WriteTestModelWith(model_root, seed, models::TrainOptions());
}

absl::StatusOr<int64_t> WriteTestModelWith(const std::string& model_root, int seed, models::TrainOptions options) {
  std::vector<models::CatalogCourse> catalog;
  for (const CourseDef& d : kCourses) {
    if (std::string(d.id) == "c_new") continue;
    // The same text layout as ReadCatalogFile (title, category, tags, description).
    catalog.push_back({d.id, absl::StrCat(d.title, "\n", d.category, "\n", d.description)});
  }
  options.content_dim = 64;
  absl::StatusOr<models::ModelArrays> arrays = models::TrainModel(TestInteractions(seed), catalog, options);
  if (!arrays.ok()) return arrays.status();
  return models::WriteModelVersion(model_root, *arrays, nlohmann::json::object());
}

std::string NewTempDir(const std::string& name) {
  static int counter = 0;
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base != nullptr ? base : "/tmp", "/", name, "_", ++counter);
  mkdir(dir.c_str(), 0755);
  return dir;
}

}  // namespace lifelong::recommend::testing
