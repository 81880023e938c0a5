// Reads every regular file directly in a folder with N threads (open, read all, close) and
// prints "files bytes seconds" — the small-file read rate of a training data loader.
// Usage: read_files DIR THREADS [stat]   ("stat": stat every file instead of reading it)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: read_files DIR THREADS [stat]\n");
    return 2;
  }
  std::string dir = argv[1];
  int threads = std::atoi(argv[2]);
  bool stat_only = argc > 3 && std::string(argv[3]) == "stat";
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    perror(dir.c_str());
    return 1;
  }
  while (dirent* e = readdir(d)) {
    std::string path = dir + "/" + e->d_name;
    struct stat st;  // (some filesystems, s3fs among them, tell no entry's type: ask)
    bool file = e->d_type == DT_REG || (e->d_type == DT_UNKNOWN && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode));
    if (file) files.push_back(path);
  }
  closedir(d);

  std::atomic<size_t> next{0};
  std::atomic<uint64_t> bytes{0}, errors{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      std::vector<char> buf(1 << 20);
      for (size_t i; (i = next++) < files.size();) {
        if (stat_only) {
          struct stat st;
          if (stat(files[i].c_str(), &st) != 0) ++errors;
          continue;
        }
        int fd = open(files[i].c_str(), O_RDONLY);
        if (fd < 0) {
          ++errors;
          continue;
        }
        ssize_t n;
        while ((n = read(fd, buf.data(), buf.size())) > 0) bytes += uint64_t(n);
        if (n < 0) ++errors;
        close(fd);
      }
    });
  for (auto& th : pool) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf("%zu %llu %.4f\n", files.size(), (unsigned long long)bytes.load(), secs);
  return errors ? 1 : 0;
}
