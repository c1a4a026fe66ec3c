"""HTTP functions behind one API Gateway HTTP API: public and private routes, a path parameter, a greedy one."""
