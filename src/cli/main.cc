#include <cstdio>
int main() { std::puts("steen: under construction"); return 0; }
