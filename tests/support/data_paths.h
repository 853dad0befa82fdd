// tests/support/data_paths.h — where the test data and the bundled assets are.
#pragma once
#include <filesystem>
#include <string>

namespace mlascope::test {

std::filesystem::path data_path(const std::string& rel = "");   // tests/data/<rel>
std::filesystem::path asset_path(const std::string& rel = "");  // assets/<rel>
std::filesystem::path mlascope_binary();                        // the built executable
// A fresh empty temporary directory, removed by the caller when wanted.
std::filesystem::path temp_dir(const std::string& tag);

}  // namespace mlascope::test
