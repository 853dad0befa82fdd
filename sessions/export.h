// sessions/export.h — a session as files for notebooks: JSON (everything) and CSV tables.
#pragma once
#include <ostream>

#include "engine/trace/trace_model.h"

namespace mlascope::sessions {

// Meta, messages, bookmarks, annotations and every token with all it captured.
void export_json(const TraceModel& tm, std::ostream& os);
// position,token_id,text,is_prompt,message,prob,raw_prob,ms,kv_bytes
void export_tokens_csv(const TraceModel& tm, std::ostream& os);
// Long format, one row per routed slot: pos,layer,rank,expert,weight
void export_routing_csv(const TraceModel& tm, std::ostream& os);
// One row per (query position, key): pos,key,prob[,nope,rope]. Throws Error when the layer/head was
// not captured anywhere in the session.
void export_attention_csv(const TraceModel& tm, int layer, int head, std::ostream& os);

}  // namespace mlascope::sessions
