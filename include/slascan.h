#ifndef PD_SLASCAN_H
#define PD_SLASCAN_H
#endif
