# The layers and what each may include (README "Source layout"): config -> policy -> tls -> proxy,
# and inside proxy/ its rooms:
#   app -> server -> session -> worker -> upstream -> transport, observe
# A file including a layer or room it may not fails the build, naming the file, the line and
# the rule. tests/layering holds trees that break each kind of rule (ctest -R layering).
#   cmake -DSOURCE_DIR=<repo> -P cmake/check_layering.cmake
cmake_policy(SET CMP0057 NEW)  # IN_LIST in script mode
set(layers "proxy;tls;policy;config")
set(allowed_config "config")
set(allowed_policy "config;policy")
set(allowed_tls "config;policy;tls")
set(allowed_proxy "config;policy;tls;proxy")
set(rooms "app;server;session;worker;upstream;transport;observe")
set(rooms_transport "transport")
set(rooms_observe "observe")
set(rooms_upstream "upstream;transport;observe")
set(rooms_worker "worker;upstream;transport;observe")
set(rooms_session "session;worker;upstream;transport;observe")
set(rooms_server "server;session;worker;transport;observe")
set(rooms_app "app;server;worker;observe")

set(violations "")
# Checks every "layer/..." include of the files in `folder` (relative to SOURCE_DIR), which belong
# to `layer` and, inside proxy/, to `room` (empty elsewhere).
function(check_folder folder layer room)
  file(GLOB sources "${SOURCE_DIR}/${folder}/*.hpp" "${SOURCE_DIR}/${folder}/*.cpp")
  foreach(source ${sources})
    file(RELATIVE_PATH relative "${SOURCE_DIR}" "${source}")
    file(STRINGS "${source}" includes REGEX "^#include \"[a-z_]+/")
    foreach(line ${includes})
      string(REGEX REPLACE "^#include \"([a-z_]+)/.*" "\\1" target_layer "${line}")
      if(target_layer IN_LIST layers AND NOT target_layer IN_LIST allowed_${layer})
        list(JOIN allowed_${layer} ", " may)
        list(APPEND violations "${relative}: ${line} (${layer}/ may include only ${may})")
      elseif(target_layer STREQUAL "proxy" AND NOT room STREQUAL "")
        if(line MATCHES "^#include \"proxy/([a-z_]+)/")
          set(target_room "${CMAKE_MATCH_1}")
        else()
          set(target_room "")
        endif()
        if(NOT target_room IN_LIST rooms_${room})
          list(JOIN rooms_${room} ", " may)
          list(APPEND violations "${relative}: ${line} (proxy/${room}/ may include only proxy/ rooms ${may})")
        endif()
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

foreach(layer config policy tls)
  check_folder("${layer}" "${layer}" "")
endforeach()
# Every engine file lives in a room: a file directly in proxy/ is itself a violation.
file(GLOB loose "${SOURCE_DIR}/proxy/*.hpp" "${SOURCE_DIR}/proxy/*.cpp")
list(JOIN rooms ", " room_list)
foreach(source ${loose})
  file(RELATIVE_PATH relative "${SOURCE_DIR}" "${source}")
  list(APPEND violations "${relative}: outside every room (proxy/ holds only ${room_list})")
endforeach()
foreach(room ${rooms})
  check_folder("proxy/${room}" "proxy" "${room}")
endforeach()

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "layering violated:\n  ${text}")
endif()
