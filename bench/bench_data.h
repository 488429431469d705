// The benchmarks' generated patients export (~150 bytes a row, French names, UTF-8), shared so that every
// benchmark measures the same data.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace opescare::bench {

// Writes a patients export of `rows` rows, UTF-8, about 150 bytes a row; returns its size.
inline uint64_t WritePatientsExport(const std::string& path, int64_t rows) {
  static const char* kFirst[] = {"Marie", "Hélène", "Jean-Pierre", "Aïssatou", "Thérèse", "Paul", "Cécile", "Noël"};
  static const char* kLast[] = {"Fouda", "Nkoulou", "Mbarga", "Bello", "Essomba", "Ngo Bikoko", "Atangana", "Owona"};
  static const char* kCity[] = {"Douala", "Yaoundé", "Bafoussam", "Garoua"};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "first_name,last_name,dob,sex,phone,city,district,address,health_id,notes\n";
  std::string line;
  char buf[256];
  for (int64_t i = 0; i < rows; ++i) {
    int n = std::snprintf(
        buf, sizeof buf,
        "%s,%s-%06lld,19%02lld-%02lld-%02lld,%s,+2376900%05lld,%s,Quartier %lld,\"Rue %lld, porte %lld\",OC-%08lld,"
        "\"Suivi pr\xC3\xA9natal, contr\xC3\xB4le \xC3\xA0 3 mois\"\n",
        kFirst[i % 8], kLast[(i / 8) % 8], static_cast<long long>(i % 1000000), static_cast<long long>(50 + i % 50),
        static_cast<long long>(1 + i % 12), static_cast<long long>(1 + i % 28), i % 2 ? "male" : "female",
        static_cast<long long>(i % 100000), kCity[i % 4], static_cast<long long>(i % 97),
        static_cast<long long>(i % 1234), static_cast<long long>(i % 89), static_cast<long long>(i));
    out.write(buf, n);
  }
  out.close();
  return std::filesystem::file_size(path);
}

}  // namespace opescare::bench
