// Scenarios and replicate results as bytes, so that another process (an MPI
// rank) can build the same model and hand back what it computed. The bytes
// are for processes of the same build on machines of the same byte order:
// integers and doubles travel as their in-memory bytes, so every value
// arrives bit for bit.
#pragma once

#include <string>
#include <string_view>

#include "talentsim/result.hpp"
#include "talentsim/scenario.hpp"

namespace talentsim {

// Every field of the scenario; decode_scenario(encode_scenario(s)) == s.
std::string encode_scenario(const Scenario& s);
// Throws InternalError when the bytes are not a whole encoded scenario.
Scenario decode_scenario(std::string_view bytes);

// Every field of the result, market_decisions included.
void append_result(const ReplicateResult& r, std::string& out);
std::string encode_result(const ReplicateResult& r);
// Throws InternalError when the bytes are not a whole encoded result.
ReplicateResult decode_result(std::string_view bytes);

}  // namespace talentsim
