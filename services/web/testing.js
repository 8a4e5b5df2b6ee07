// What tests/browser needs from services/web's npm packages and generated
// code, in one place (tests/browser has no node_modules of its own).
export { chromium } from "playwright-core";
export { createClient, ConnectError, Code } from "@connectrpc/connect";
export { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
export { CourseCatalogService } from "./gen/proto/lifelong/v1/catalog_pb.js";
export { RecommendationService } from "./gen/proto/lifelong/v1/recommend_pb.js";
export { LearningRecordService } from "./gen/proto/lifelong/v1/records_pb.js";
export { ERASE_TIMEOUT_MS, createGateway, upstreamTimeoutMs } from "./gateway/gateway.js";
export { chooseCredential, checkKioskWrite, hostName, parseKioskClients, peekClaims } from "./gateway/policy.js";
export { DEFAULT_LIMITS, defaultSmallReserve } from "./gateway/limits.js";
export { parseProxyLine } from "./gateway/proxy_protocol.js";
import { createRequire } from "node:module";
export const AXE_PATH = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
