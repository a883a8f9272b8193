# deepseek_module(NAME DIRS dir... [DEPS lib...]): one static library per layer, built from
# every .cpp under the named folders (relative to deepseek/), so a new file needs no CMake edit.
function(deepseek_module name)
  cmake_parse_arguments(M "" "" "DIRS;DEPS;EXCLUDE" ${ARGN})
  set(srcs)
  foreach(d ${M_DIRS})
    file(GLOB_RECURSE s CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/deepseek/${d}/*.cpp)
    list(APPEND srcs ${s})
  endforeach()
  foreach(x ${M_EXCLUDE})
    list(FILTER srcs EXCLUDE REGEX "${PROJECT_SOURCE_DIR}/deepseek/${x}/")
  endforeach()
  if(NOT srcs)  # a layer whose first file has not landed yet
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${M_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${M_DEPS})
endfunction()

# deepseek_test(NAME DIR dir LIBS lib... [EXCLUDE subdir...]): one GoogleTest binary per tests/ folder.
# Tests whose name contains "Slow" run only under the `slow` label.
function(deepseek_test name)
  cmake_parse_arguments(T "" "DIR" "LIBS;EXCLUDE" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${T_DIR}/*.cpp)
  foreach(x ${T_EXCLUDE})
    list(FILTER srcs EXCLUDE REGEX "${PROJECT_SOURCE_DIR}/tests/${x}/")
  endforeach()
  if(NOT srcs)
    return()
  endif()
  add_executable(${name} ${srcs})
  set_property(GLOBAL APPEND PROPERTY DEEPSEEK_TEST_TARGETS ${name})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main nlohmann_json::nlohmann_json)
  add_test(NAME ${name} COMMAND ${name} --gtest_filter=-*Slow*:*Distributed*:*Cuda*
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS unit)
  add_test(NAME ${name}_slow COMMAND ${name} --gtest_filter=*Slow*
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name}_slow PROPERTIES LABELS slow)
  if(DEEPSEEK_CUDA)  # CUDA tests skip themselves on a machine without a GPU
    add_test(NAME ${name}_cuda COMMAND ${name} --gtest_filter=*Cuda*
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${name}_cuda PROPERTIES LABELS cuda)
  endif()
endfunction()
