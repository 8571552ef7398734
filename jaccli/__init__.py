"""jaccli: exact Jacobians, Hessians and HVPs from the command line."""
