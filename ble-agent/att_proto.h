/* Attribute Protocol numbers: opcodes, error codes and MTU limits
 * (Core spec Vol 3 Part F 3.4; error codes in 3.4.1.1). */
#ifndef ATT_PROTO_H
#define ATT_PROTO_H

enum {
    ATT_MTU_MIN = 23,  /* LE default, and the floor a client may ask for */
    ATT_MTU_MAX = 517, /* largest value (512) plus the longest header (5) */
};

enum att_opcode {
    ATT_OP_ERROR_RSP = 0x01,
    ATT_OP_MTU_REQ = 0x02,
    ATT_OP_MTU_RSP = 0x03,
    ATT_OP_FIND_INFO_REQ = 0x04,
    ATT_OP_FIND_INFO_RSP = 0x05,
    ATT_OP_FIND_BY_TYPE_REQ = 0x06,
    ATT_OP_FIND_BY_TYPE_RSP = 0x07,
    ATT_OP_READ_BY_TYPE_REQ = 0x08,
    ATT_OP_READ_BY_TYPE_RSP = 0x09,
    ATT_OP_READ_REQ = 0x0a,
    ATT_OP_READ_RSP = 0x0b,
    ATT_OP_READ_BLOB_REQ = 0x0c,
    ATT_OP_READ_BLOB_RSP = 0x0d,
    ATT_OP_READ_MULT_REQ = 0x0e,
    ATT_OP_READ_MULT_RSP = 0x0f,
    ATT_OP_READ_BY_GROUP_REQ = 0x10,
    ATT_OP_READ_BY_GROUP_RSP = 0x11,
    ATT_OP_WRITE_REQ = 0x12,
    ATT_OP_WRITE_RSP = 0x13,
    ATT_OP_PREP_WRITE_REQ = 0x16,
    ATT_OP_PREP_WRITE_RSP = 0x17,
    ATT_OP_EXEC_WRITE_REQ = 0x18,
    ATT_OP_EXEC_WRITE_RSP = 0x19,
    ATT_OP_NOTIFY = 0x1b,
    ATT_OP_INDICATE = 0x1d,
    ATT_OP_CONFIRM = 0x1e,
    ATT_OP_READ_MULT_VAR_RSP = 0x21,
    ATT_OP_MULT_NOTIFY = 0x23,
    ATT_OP_WRITE_CMD = 0x52,
    ATT_OP_COMMAND_FLAG = 0x40,
};

enum att_ecode {
    ATT_ECODE_INVALID_HANDLE = 0x01,
    ATT_ECODE_READ_NOT_PERMITTED = 0x02,
    ATT_ECODE_WRITE_NOT_PERMITTED = 0x03,
    ATT_ECODE_INVALID_PDU = 0x04,
    ATT_ECODE_REQ_NOT_SUPPORTED = 0x06,
    ATT_ECODE_INVALID_OFFSET = 0x07,
    ATT_ECODE_PREP_QUEUE_FULL = 0x09,
    ATT_ECODE_ATTR_NOT_FOUND = 0x0a,
    ATT_ECODE_INVALID_VALUE_LEN = 0x0d,
    ATT_ECODE_UNLIKELY = 0x0e,
    ATT_ECODE_UNSUPPORTED_GROUP = 0x10,
    ATT_ECODE_INSUFF_RESOURCES = 0x11,
    ATT_ECODE_VALUE_NOT_ALLOWED = 0x13,
    /* Common profile errors (Core Supplement Part B 1.2) */
    ATT_ECODE_CCC_IMPROPER = 0xfd,
    ATT_ECODE_PROC_IN_PROGRESS = 0xfe,
};

#endif
