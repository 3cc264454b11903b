#ifndef PD_SLA_H
#define PD_SLA_H
#endif
