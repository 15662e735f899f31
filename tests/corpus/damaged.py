def DAMAGED():
    return {}
