// The public header compiles alone as C++ (extern "C", no C-only syntax),
// and a C++ program links and calls the library.
#include <mtasts/mtasts.h>

#include <cstdio>
#include <cstring>

int
main()
{
    char id[MTASTS_ID_BUFSIZE];
    const char rec[] = "v=STSv1; id=cxx1;";
    int rc = mtasts_txt_parse(rec, std::strlen(rec), id);
    if (rc != MTASTS_OK || std::strcmp(id, "cxx1") != 0) {
        std::puts("FAIL: mtasts_txt_parse from C++");
        return 1;
    }
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    mtasts_policy *p = nullptr;
    rc = mtasts_policy_parse("x", 1, &p, &err);
    if (rc != MTASTS_ERR_SYNTAX || p != nullptr || err.message == nullptr) {
        std::puts("FAIL: mtasts_policy_parse error from C++");
        return 1;
    }
    std::puts("header_cxx: ok");
    return 0;
}
