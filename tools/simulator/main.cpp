// Placeholder: the simulator lands with the heartbeat issue.
int main() { return 1; }
